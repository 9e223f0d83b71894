"""Sliding windows over groups of rows (accounts, cards, account+country), without a per-row loop.

History and batch rows are merged into one processing order (position ``pos``), keyed
``group << shift | pos`` as int64 and sorted; a row's window (t - W, t] is the key range from
(its group, the first position after t - W) to its own key, and its sum comes from a cumulative
sum over the sorted keys. A history row with timestamp <= t is seen before a batch row at t.
"""

from __future__ import annotations

import numpy as np

from banking.rules.columns import HistoryColumns

_I64 = np.int64


def dense(keys: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Dense ids 0..m-1 of the distinct ``keys``, the same ids for ``others`` (-1: not a key), m."""
    if not len(keys):
        return np.zeros(0, _I64), np.full(len(others), -1, _I64), 0
    lo, hi = int(keys.min()), int(keys.max())
    size = hi - lo + 1
    if size <= 4 * (len(keys) + len(others)) + 4096:  # small key range: lookup tables, no sorting
        present = np.zeros(size, bool)
        present[keys - lo] = True
        ids = np.cumsum(present, dtype=_I64) - 1
        ids[~present] = -1
        offset = others - lo
        if not len(others) or (int(offset.min()) >= 0 and int(offset.max()) < size):
            found = ids[offset]
        else:
            inside = (offset >= 0) & (offset < size)
            found = np.where(inside, ids[np.clip(offset, 0, size - 1)], -1)
        return ids[keys - lo], found, int(ids[-1]) + 1
    distinct, ids = np.unique(keys, return_inverse=True)
    at = np.minimum(np.searchsorted(distinct, others), len(distinct) - 1)
    found = np.where(distinct[at] == others, at, -1)
    return ids.astype(_I64), found.astype(_I64), len(distinct)


class Events:
    """The batch rows and the history rows that can be in a window, merged in processing order.

    ``pos_b`` / ``pos_h`` are the positions of the batch / history rows in that order: history
    before batch at equal timestamps, the batch in its own order.
    """

    def __init__(
        self,
        t_b: np.ndarray,
        account_b: np.ndarray,
        amount_b: np.ndarray,
        history: HistoryColumns,
        lookback_us: int,
    ):
        self.t_b = t_b
        h_t = np.asarray(history.t_us, _I64)
        if len(h_t) > 1 and not bool((h_t[1:] >= h_t[:-1]).all()):
            raise ValueError("history rows must be sorted by t_us")
        # Rows at or before the first row's t - lookback are in no window, rows after the last
        # row's t neither; rows of other accounts neither.
        if len(t_b):
            start = int(np.searchsorted(h_t, t_b[0] - lookback_us, "right"))
            stop = int(np.searchsorted(h_t, t_b[-1], "right"))
        else:
            start = stop = 0
        self.account_b, account_h, self.n_accounts = dense(
            account_b, np.asarray(history.account, _I64)[start:stop]
        )
        self._history = history
        self._keep: slice | np.ndarray
        if len(account_h) and int(account_h.min()) < 0:
            keep = np.flatnonzero(account_h >= 0)
            self.account_h, self._keep = account_h[keep], keep + start
        else:  # the usual case: history was read for the batch's accounts only
            self.account_h, self._keep = account_h, slice(start, stop)
        self.t_h = h_t = h_t[self._keep]
        n_b, n_h = len(t_b), len(h_t)
        self.n = n_b + n_h
        if self.n >= 1 << 31:
            raise ValueError(f"too many rows to score at once: {self.n} with the history")
        self.pos_b = np.arange(n_b, dtype=_I64) + np.searchsorted(h_t, t_b, "right")
        is_history = np.ones(self.n, bool)
        is_history[self.pos_b] = False
        self.pos_h = np.flatnonzero(is_history)  # the history keeps its order among itself
        self._upto: dict[int, np.ndarray] = {}
        self.amount = np.empty(self.n, _I64)  # by position
        self.amount[self.pos_b] = amount_b
        self.amount[self.pos_h] = self.history_column("amount_cents")
        self.weight: np.ndarray | None = None  # by position; None: every event weighs 1
        if history.weight is not None:
            self.weight = np.ones(self.n, _I64)
            self.weight[self.pos_h] = self.history_column("weight")

    def history_column(self, name: str) -> np.ndarray:
        """A column of the kept history rows, aligned with t_h."""
        return np.asarray(getattr(self._history, name))[self._keep]

    def window_start(self, span_us: int) -> np.ndarray:
        """Per batch row: how many events have a timestamp <= t - span (the position of the first
        event inside the row's window)."""
        first = self._upto.get(span_us)
        if first is None:
            cutoff = self.t_b - span_us
            first = np.searchsorted(self.t_h, cutoff, "right") + np.searchsorted(self.t_b, cutoff, "right")
            self._upto[span_us] = first
        return first


class Grouping:
    """Events split into groups (accounts, cards, ...); a batch row's window covers its group's
    earlier events in (t - span, t]. Group -1 marks an event in no group; a batch row in no group
    gets a meaningless count."""

    def __init__(self, events: Events, group_b: np.ndarray, group_h: np.ndarray):
        self.events = events
        # key = group << shift | position; groups and positions are < n < 2**31: no overflow.
        self.shift = shift = max(1, events.n.bit_length())
        key_b = group_b << shift | events.pos_b
        key_h = group_h << shift | events.pos_h
        in_b = key_b[group_b >= 0] if len(key_b) and int(group_b.min()) < 0 else key_b
        in_h = key_h[group_h >= 0] if len(key_h) and int(group_h.min()) < 0 else key_h
        keys = np.concatenate((in_b, in_h))
        keys.sort()
        self.keys = keys
        # Queries go in key order (group, position): searchsorted is ~10x faster on sorted needles.
        self.order = np.argsort(key_b)
        self.group_b = group_b[self.order]
        self.at = np.searchsorted(keys, key_b[self.order])  # each row's own key: its window's end
        self._cumsum: np.ndarray | None = None
        self._cumweight: np.ndarray | None = None
        self._windows: dict[int, np.ndarray] = {}

    def _window(self, span_us: int) -> np.ndarray:
        """In key order: the index in ``keys`` where each row's window starts."""
        lo = self._windows.get(span_us)
        if lo is None:
            first = self.events.window_start(span_us)[self.order]  # nondecreasing within a group
            lo = self._windows[span_us] = np.searchsorted(self.keys, self.group_b << self.shift | first)
        return lo

    def _in_row_order(self, values: np.ndarray) -> np.ndarray:
        result = np.empty_like(values)
        result[self.order] = values
        return result

    def _cumulative(self, by_position: np.ndarray) -> np.ndarray:
        """0, then the running sum over the sorted keys of a per-position value."""
        return np.concatenate(
            (np.zeros(1, _I64), np.cumsum(by_position[self.keys & ((1 << self.shift) - 1)]))
        )

    def count(self, span_us: int) -> np.ndarray:
        """Per batch row: how many earlier rows of its group are in (t - span, t] (the events'
        weights summed: an event is one row unless the history gives weights)."""
        weight = self.events.weight
        if weight is None:
            return self._in_row_order(self.at - self._window(span_us))
        if self._cumweight is None:
            self._cumweight = self._cumulative(weight)
        return self._in_row_order(self._cumweight[self.at] - self._cumweight[self._window(span_us)])

    def total(self, span_us: int) -> np.ndarray:
        """Per batch row: the sum of the amounts of those events (wrapping like int64 sums do)."""
        if self._cumsum is None:
            self._cumsum = self._cumulative(self.events.amount)
        return self._in_row_order(self._cumsum[self.at] - self._cumsum[self._window(span_us)])
