"""The fraud rules evaluated with NumPy over columns: one pass per rule over the whole batch.

``score_columns`` takes the batch (``Columns``, already in processing order) and the history
loaded before it (``HistoryColumns``) as arrays and returns ``Scores``: risk score, decision and
a bit mask of the rules that fired per row, plus the explanation texts of the rows with hits.

The results are exactly those of scoring the rows one by one in (timestamp, uniq_id) order: a
rule sees the account's (or card's) history plus the batch's earlier rows, never a later one; a
history row with timestamp <= t is seen before a batch row at t. Sliding windows (t - W, t] are
counted without a per-row loop: history and batch rows are merged into one processing order
(position ``pos``), keyed ``group * n + pos`` as int64 and sorted; a row's window is the key range
from (its group, the first position after t - W) to its own key, and its sum comes from a
cumulative sum over the sorted keys.

Explanations are the only per-row Python work, and only for the rows where a rule fired.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache, partial
from operator import attrgetter, ne
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import numpy as np

from banking import countries as geo
from banking.model import (
    CARD_NOT_PRESENT,
    DECISIONS,
    MERCHANT_CATEGORIES,
    NO_RULES_TRIGGERED,
    REAL_TIME,
    REJECTED,
    REVIEW,
    TRANS_TYPES,
    History,
    PastTransaction,
    RuleHit,
    Transaction,
    micros,
)
from banking.rules import (
    MAX_ENABLED_RULES,
    MAX_RISK_SCORE,
    NO_HITS_EXPLANATION,
    AmountSpikeParams,
    CnpCategoryParams,
    HighValueParams,
    NewCountryParams,
    OddHoursParams,
    Rule,
    RuleSet,
    ScoreSummary,
    VelocityParams,
    to_cents,
)

_US_PER_S = 1_000_000
_US_PER_MIN = 60_000_000
_US_PER_DAY = 86_400_000_000
_EXACT_FLOAT = float(2**52)  # below this, int64 products compare exactly as float64
_I64 = np.int64
_timestamp_of = attrgetter("timestamp")
_order_of = attrgetter("timestamp", "uniq_id")

Zone = ZoneInfo | timezone


# --------------------------------------------------------------------------------------------
# Columns in, scores out
# --------------------------------------------------------------------------------------------


class KeyTable(dict[Hashable, int]):
    """Dense int keys in first-seen order: ``table[value]`` hands out the next int for a new value.

    One table per key space (accounts, cards, country codes) shared by the batch and the history;
    ``tuple(table)`` is the code table (the values in key order).
    """

    def __init__(self, initial: Iterable[Hashable] = ()):
        super().__init__()
        for value in initial:
            self[value]  # noqa: B018 - assigns the next key

    def __missing__(self, value: Hashable) -> int:
        key = self[value] = len(self)
        return key


def _column(
    items: Sequence[Any], field: str, dtype: Any, convert: Callable[[Any], Any] | None = None
) -> np.ndarray:
    """An array of one attribute of every item, converted (a key lookup, micros, ...)."""
    values: Iterable[Any] = map(attrgetter(field), items)
    if convert is not None:
        values = map(convert, values)
    return np.fromiter(values, dtype, len(items))


def country_table() -> KeyTable:
    """A country code table that starts with the known countries (``countries.COUNTRIES``)."""
    return KeyTable(geo.COUNTRIES)


@dataclass(frozen=True, slots=True)
class Columns:
    """Rows to score, columnar, ALREADY in processing order: sorted by (timestamp, uniq_id)."""

    t_us: np.ndarray  # int64 µs since the Unix epoch (UTC)
    account: np.ndarray  # int64 key per account (same key space as HistoryColumns.account)
    card: np.ndarray  # int64 key per card (same key space as HistoryColumns.card)
    amount_cents: np.ndarray  # int64, USD cents
    country: np.ndarray  # int32 index into `countries`
    home_country: np.ndarray  # int32 index into `countries`
    trans_type: np.ndarray  # int8 (any integer dtype) index into `trans_type_names`
    card_present: np.ndarray  # bool; False only for card_presense == "Not Present"
    category: np.ndarray  # int8 (any integer dtype) index into `category_names`
    blacklisted: np.ndarray  # bool
    countries: tuple[str, ...]  # distinct codes, e.g. tuple(countries.COUNTRIES) + extra codes
    trans_type_names: tuple[str, ...] = TRANS_TYPES  # distinct; model.TRANS_TYPES (+ extras)
    category_names: tuple[str, ...] = MERCHANT_CATEGORIES  # distinct; model.MERCHANT_CATEGORIES (+ extras)

    def __len__(self) -> int:
        return len(self.t_us)

    @classmethod
    def from_transactions(
        cls, transactions: Sequence[Transaction], accounts: KeyTable, cards: KeyTable, codes: KeyTable
    ) -> Columns:
        """Columns of transactions already sorted by (timestamp, uniq_id); keys and codes from the tables.

        Trans types and categories outside the model's lists get extra names, so nothing is lost.
        """
        trans_types = KeyTable(TRANS_TYPES)
        categories = KeyTable(MERCHANT_CATEGORIES)
        txs = transactions
        return cls(
            t_us=_column(txs, "timestamp", _I64, micros),
            account=_column(txs, "account_id", _I64, accounts.__getitem__),
            card=_column(txs, "card_ref", _I64, cards.__getitem__),
            amount_cents=_column(txs, "amount_cents", _I64),
            country=_column(txs, "country", np.int32, codes.__getitem__),
            home_country=_column(txs, "home_country", np.int32, codes.__getitem__),
            trans_type=_column(txs, "trans_type", np.int16, trans_types.__getitem__),
            card_present=_column(txs, "card_presense", bool, partial(ne, CARD_NOT_PRESENT)),
            category=_column(txs, "merchant_category", np.int16, categories.__getitem__),
            blacklisted=_column(txs, "account_blacklisted", bool, bool),
            countries=tuple(codes),
            trans_type_names=tuple(trans_types),
            category_names=tuple(categories),
        )


@dataclass(frozen=True, slots=True)
class HistoryColumns:
    """Transactions loaded before the window (see history.py), sorted by t_us; same key/code spaces as Columns."""

    t_us: np.ndarray  # int64
    account: np.ndarray  # int64
    card: np.ndarray  # int64
    amount_cents: np.ndarray  # int64
    country: np.ndarray  # int32 index into the batch's `countries`
    since: datetime  # the earliest timestamp that was read
    until: datetime
    # int64 rows each event stands for (None: every event is one row). An aggregate event of n rows
    # of one (account, country) has weight n, their summed amount, and card -1 (in no card group).
    weight: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.t_us)

    @classmethod
    def empty(cls, since: datetime, until: datetime) -> HistoryColumns:
        none = np.zeros(0, _I64)
        return cls(none, none, none, none, np.zeros(0, np.int32), since, until)

    @classmethod
    def from_history(
        cls,
        history: History,
        accounts: Mapping[UUID, int],
        cards: KeyTable,
        codes: KeyTable,
        after: datetime | None = None,
    ) -> HistoryColumns:
        """The history rows of ``accounts`` (the keys of its by_account) with timestamp > ``after``.

        Only those accounts are read: history of accounts without a row to score cannot matter;
        neither can rows at or before the first row's timestamp minus the rule set's lookback.
        """
        rows: list[PastTransaction] = []
        keys: list[int] = []
        for account_id, key in accounts.items():
            past = history.by_account.get(account_id)
            if not past:
                continue
            if after is not None:
                past = past[bisect_right(past, after, key=_timestamp_of) :]
            rows += past
            keys += [key] * len(past)
        t_us = _column(rows, "timestamp", _I64, micros)
        order = np.argsort(t_us, kind="stable")
        return cls(
            t_us=t_us[order],
            account=np.array(keys, _I64)[order],
            card=_column(rows, "card_ref", _I64, cards.__getitem__)[order],
            amount_cents=_column(rows, "amount_cents", _I64)[order],
            country=_column(rows, "country", np.int32, codes.__getitem__)[order],
            since=history.since,
            until=history.until,
        )


@dataclass(frozen=True, slots=True)
class Scores:
    """The scores of a batch, row-aligned with its Columns."""

    rule_ids: tuple[str, ...]  # enabled rules in rule-file order = bit order of hit_mask
    rule_scores: tuple[int, ...]
    risk_score: np.ndarray  # int64, min(100, sum of hit scores)
    decision: np.ndarray  # int8 index into model.DECISIONS (Approved, Review, Rejected)
    hit_mask: np.ndarray  # int64, bit k set when rule_ids[k] fired on the row
    explanations: dict[int, tuple[str, ...]]  # row -> explanation of each hit, in bit order (rows with hits)
    summary: ScoreSummary  # the batch counts (what rules.score_batch returns)

    def __len__(self) -> int:
        return len(self.risk_score)

    def hit_rules(self, i: int) -> list[int]:
        """Indices into rule_ids of the rules that fired on row i, in rule order."""
        mask = int(self.hit_mask[i])
        return [k for k in range(len(self.rule_ids)) if mask >> k & 1] if mask else []

    def hits(self, i: int) -> list[RuleHit]:
        """The rule hits of row i, in rule order (a new list)."""
        texts = self.explanations.get(i)
        if not texts:
            return []
        ids, scores = self.rule_ids, self.rule_scores
        return [RuleHit(ids[k], scores[k], t) for k, t in zip(self.hit_rules(i), texts, strict=True)]

    def decision_name(self, i: int) -> str:
        return DECISIONS[self.decision[i]]

    def rules_triggered(self, i: int) -> str:
        """The comma-separated ids of the rules that fired, or "No Rules Triggered"."""
        if i not in self.explanations:
            return NO_RULES_TRIGGERED
        return ", ".join([self.rule_ids[k] for k in self.hit_rules(i)])

    def rules_explanation(self, i: int) -> str:
        """The explanations of the hits joined by "; ", or the no-hits text."""
        texts = self.explanations.get(i)
        return "; ".join(texts) if texts else NO_HITS_EXPLANATION


def score_columns(rows: Columns, history: HistoryColumns, rule_set: RuleSet) -> Scores:
    """Evaluate the enabled rules of ``rule_set`` on every row; see the module docstring."""
    enabled = rule_set.enabled_rules
    if len(enabled) > MAX_ENABLED_RULES:
        raise ValueError(f"at most {MAX_ENABLED_RULES} enabled rules can be scored, got {len(enabled)}")
    batch = _Batch(rows, history, rule_set.lookback)
    n = len(batch)
    hit_mask = np.zeros(n, _I64)
    total = np.zeros(n, _I64)
    hit_rows: list[np.ndarray] = []
    hit_texts: list[list[str]] = []
    hits_by_rule: dict[str, int] = {}
    for bit, rule in enumerate(enabled):
        fired, explain = _EVALUATORS[rule.type](rule, batch)
        if rule.trans_types is not None:
            fired &= batch.of_trans_types(rule.trans_types)
        where = np.flatnonzero(fired)
        hit_mask[where] |= 1 << bit
        total[where] += rule.score
        hit_rows.append(where)
        hit_texts.append(explain(where) if len(where) else [])
        hits_by_rule[rule.id] = len(where)
    risk = np.minimum(total, MAX_RISK_SCORE)
    decision = np.zeros(n, np.int8)
    if rule_set.review_score is not None:
        decision[risk >= rule_set.review_score] = DECISIONS.index(REVIEW)
    decision[risk >= rule_set.reject_score] = DECISIONS.index(REJECTED)
    explanations: dict[int, list[str]] = {i: [] for i in np.flatnonzero(hit_mask).tolist()}
    for where, texts in zip(hit_rows, hit_texts, strict=True):
        for i, text in zip(where.tolist(), texts, strict=True):
            explanations[i].append(text)
    counts = np.bincount(decision, minlength=len(DECISIONS)).tolist()
    summary = ScoreSummary(
        rows=n,
        decisions=dict(zip(DECISIONS, counts, strict=True)),
        hits_by_rule=hits_by_rule,
        rule_set_version=rule_set.version,
        total_risk_score=int(risk.sum()),
    )
    return Scores(
        rule_ids=tuple(r.id for r in enabled),
        rule_scores=tuple(r.score for r in enabled),
        risk_score=risk,
        decision=decision,
        hit_mask=hit_mask,
        explanations={i: tuple(texts) for i, texts in explanations.items()},
        summary=summary,
    )


def score_transactions(transactions: list[Transaction], history: History, rule_set: RuleSet) -> ScoreSummary:
    """``rules.score_batch``: score Transaction objects in place through ``score_columns``."""

    def read_past(
        ordered: list[Transaction], accounts: KeyTable, cards: KeyTable, codes: KeyTable
    ) -> HistoryColumns:
        if ordered and rule_set.lookback > timedelta(0):
            after = ordered[0].timestamp - rule_set.lookback
            return HistoryColumns.from_history(history, accounts, cards, codes, after)
        return HistoryColumns.empty(history.since, history.until)

    return score_transactions_with(transactions, read_past, rule_set)


# The history of the keyed accounts of rows in processing order, keyed in the same tables (which may grow).
PastReader = Callable[[list[Transaction], KeyTable, KeyTable, KeyTable], HistoryColumns]


def score_transactions_with(
    transactions: list[Transaction], read_past: PastReader, rule_set: RuleSet
) -> ScoreSummary:
    """:func:`score_transactions` with the history from ``read_past`` (e.g. the state, ``state.py``)."""
    ordered = sorted(transactions, key=_order_of)
    accounts, cards, codes = KeyTable(), KeyTable(), country_table()
    rows = Columns.from_transactions(ordered, accounts, cards, codes)
    past = read_past(ordered, accounts, cards, codes)
    rows = replace(rows, countries=tuple(codes))  # the history may have added country codes
    scores = score_columns(rows, past, rule_set)
    version = rule_set.version
    risk = scores.risk_score.tolist()
    decisions = [DECISIONS[d] for d in scores.decision.tolist()]
    explanations = scores.explanations
    for i, tx in enumerate(ordered):
        texts = explanations.get(i)
        if texts is None:
            tx.rule_hits = []
            tx.rules_triggered = NO_RULES_TRIGGERED
            tx.rules_explanation = NO_HITS_EXPLANATION
        else:
            tx.rule_hits = hits = scores.hits(i)
            tx.rules_triggered = ", ".join([h.rule_id for h in hits])
            tx.rules_explanation = "; ".join(texts)
        tx.risk_score = risk[i]
        tx.decision = decisions[i]
        tx.rule_set_version = version
    return scores.summary


# --------------------------------------------------------------------------------------------
# Sliding windows over groups of rows (accounts, cards, account+country)
# --------------------------------------------------------------------------------------------


def _dense(keys: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
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


class _Events:
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
        self.account_b, account_h, self.n_accounts = _dense(
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


class _Grouping:
    """Events split into groups (accounts, cards, ...); a batch row's window covers its group's
    earlier events in (t - span, t]. Group -1 marks an event in no group; a batch row in no group
    gets a meaningless count."""

    def __init__(self, events: _Events, group_b: np.ndarray, group_h: np.ndarray):
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


# --------------------------------------------------------------------------------------------
# Local time (odd_hours)
# --------------------------------------------------------------------------------------------


def home_zone(code: str) -> Zone:
    """The timezone of a home country; UTC for an unknown code rather than failing the batch."""
    try:
        return geo.country(code).zone
    except KeyError:
        return UTC


def _utc_offset(zone: Zone, t_s: int) -> int:
    delta = datetime.fromtimestamp(t_s, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


@lru_cache(maxsize=1 << 16)
def _hour_offset(zone: Zone, hour: int) -> int | None:
    """The UTC offset (s) of zone during UTC hour ``hour`` since the epoch; None when it changes inside."""
    start = hour * 3600
    first, last = _utc_offset(zone, start), _utc_offset(zone, start + 3599)
    return first if first == last else None


def _local_seconds(t_us: np.ndarray, home: np.ndarray, zones: list[Zone]) -> np.ndarray:
    """Seconds since the epoch of the local wall-clock time in each row's home zone."""
    t_s = t_us // _US_PER_S
    hour = t_s // 3600
    first_hour = int(hour[0]) if len(hour) else 0
    n_codes = len(zones)
    cell = (hour - first_hour) * n_codes + home  # (hour, home country)
    size = (int(hour[-1]) - first_hour + 1) * n_codes if len(hour) else 0
    if size <= 1 << 24:
        used = np.zeros(size, bool)
        used[cell] = True
        cells = np.flatnonzero(used)
    else:
        cells = np.unique(cell)
    offsets = np.zeros(len(cells), _I64)
    varies = np.zeros(len(cells), bool)
    for j, c in enumerate(cells.tolist()):
        offset = _hour_offset(zones[c % n_codes], first_hour + c // n_codes)
        if offset is None:
            varies[j] = True
        else:
            offsets[j] = offset
    at = np.searchsorted(cells, cell)
    local = t_s + offsets[at]
    for i in np.flatnonzero(varies[at]).tolist():  # rows in an hour with a UTC offset change
        local[i] = int(t_s[i]) + _utc_offset(zones[home[i]], int(t_s[i]))
    return local


# --------------------------------------------------------------------------------------------
# The batch as the evaluators see it
# --------------------------------------------------------------------------------------------


_ROW_COLUMNS = (
    "account",
    "card",
    "amount_cents",
    "country",
    "home_country",
    "trans_type",
    "card_present",
    "category",
    "blacklisted",
)


class _Batch:
    """Validated columns plus the derived arrays the rules share, computed on first use."""

    def __init__(self, rows: Columns, history: HistoryColumns, lookback: timedelta):
        self.rows = rows
        self.t_us = np.asarray(rows.t_us, _I64)
        n = len(self.t_us)
        for name in _ROW_COLUMNS:
            if len(getattr(rows, name)) != n:
                raise ValueError(f"column {name} has {len(getattr(rows, name))} rows, t_us has {n}")
        if n > 1 and not bool((self.t_us[1:] >= self.t_us[:-1]).all()):
            raise ValueError("rows must be sorted by (timestamp, uniq_id)")
        for table in ("countries", "trans_type_names", "category_names"):
            names = getattr(rows, table)
            if len(set(names)) != len(names):
                raise ValueError(f"{table} must not repeat a value: {names!r}")
        self.amount = np.asarray(rows.amount_cents, _I64)
        self.country = self._codes(rows.country, rows.countries, "country")
        self.home = self._codes(rows.home_country, rows.countries, "home_country")
        self.trans_type = self._codes(rows.trans_type, rows.trans_type_names, "trans_type")
        self.category = self._codes(rows.category, rows.category_names, "category")
        self._history = history
        self._lookback_us = lookback // timedelta(microseconds=1)
        self._events: _Events | None = None
        self._groupings: dict[str, _Grouping] = {}
        self._local: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.t_us)

    @staticmethod
    def _codes(values: np.ndarray, names: tuple[str, ...], column: str) -> np.ndarray:
        codes = np.asarray(values, np.int32)
        if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= len(names)):
            raise ValueError(f"column {column} has an index outside its {len(names)} names")
        return codes

    def of_trans_types(self, trans_types: tuple[str, ...]) -> np.ndarray:
        """Rows whose trans type is one of ``trans_types``."""
        wanted = np.array([name in trans_types for name in self.rows.trans_type_names], bool)
        return wanted[self.trans_type]

    @property
    def events(self) -> _Events:
        if self._events is None:
            account = np.asarray(self.rows.account, _I64)
            self._events = _Events(self.t_us, account, self.amount, self._history, self._lookback_us)
        return self._events

    def grouping(self, by: str) -> _Grouping:
        """The account, card or account_country grouping of the events."""
        grouping = self._groupings.get(by)
        if grouping is None:
            grouping = self._groupings[by] = getattr(self, f"_by_{by}")()
        return grouping

    def _by_account(self) -> _Grouping:
        ev = self.events
        return _Grouping(ev, ev.account_b, ev.account_h)

    def _by_card(self) -> _Grouping:
        """A card's events: its batch rows, and the history rows of the card *of the account of the
        card's first batch row* (a card's history is read through its account)."""
        ev = self.events
        card_b, card_h, n_cards = _dense(
            np.asarray(self.rows.card, _I64), np.asarray(ev.history_column("card"), _I64)
        )
        first = np.full(n_cards, len(card_b), _I64)
        np.minimum.at(first, card_b, np.arange(len(card_b), dtype=_I64))
        owner = ev.account_b[first]
        same = (card_h >= 0) & (owner[np.maximum(card_h, 0)] == ev.account_h)
        return _Grouping(ev, card_b, np.where(same, card_h, -1))

    def _by_account_country(self) -> _Grouping:
        """Groups (account, country) for the pairs of the foreign rows; other events in none."""
        ev = self.events
        country_h = np.asarray(ev.history_column("country"), _I64)
        # History countries may be codes beyond the batch's table (none of the batch's countries).
        n_codes = max(len(self.rows.countries), int(country_h.max()) + 1 if len(country_h) else 0)
        if len(country_h) and int(country_h.min()) < 0:
            raise ValueError("history country indices must not be negative")
        pair_b = ev.account_b * n_codes + self.country
        pair_h = ev.account_h * n_codes + country_h
        foreign = pair_b[self.country != self.home]
        _, found, _ = _dense(foreign, np.concatenate((pair_b, pair_h)))
        return _Grouping(ev, found[: len(pair_b)], found[len(pair_b) :])

    def local_seconds(self) -> np.ndarray:
        if self._local is None:
            zones = [home_zone(code) for code in self.rows.countries]
            self._local = _local_seconds(self.t_us, self.home, zones)
        return self._local


# --------------------------------------------------------------------------------------------
# Evaluators: one per rule type; each returns (fired, explain) where explain(rows) gives the
# explanation texts of the given rows (all of which fired), byte for byte as documented.
# --------------------------------------------------------------------------------------------

_Explain = Callable[[np.ndarray], list[str]]
_Evaluator = Callable[[Rule, _Batch], tuple[np.ndarray, _Explain]]


def _usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{frac:02d} USD"


def _minutes_text(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} min"


def _in_hour_range(hour: int, start: int, end: int) -> bool:
    """hour in [start, end), wrapping midnight when start > end."""
    return start <= hour < end if start < end else hour >= start or hour < end


def _high_value(rule: Rule, b: _Batch) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, HighValueParams)
    min_cents = p.min_cents
    fired = b.amount >= min_cents

    def explain(where: np.ndarray) -> list[str]:
        limit = _usd(min_cents)
        kinds = ["real-time" if name == REAL_TIME else name for name in b.rows.trans_type_names]
        return [
            f"High-value {kinds[k]} transaction: {_usd(a)} >= {limit} limit"
            for k, a in zip(b.trans_type[where].tolist(), b.amount[where].tolist(), strict=True)
        ]

    return fired, explain


def _blacklisted(rule: Rule, b: _Batch) -> tuple[np.ndarray, _Explain]:
    fired = np.array(b.rows.blacklisted, bool)
    return fired, lambda where: ["Account is on the blacklist"] * len(where)


def _velocity(rule: Rule, b: _Batch) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, VelocityParams)
    key = p.key
    span = p.window_minutes * _US_PER_MIN
    max_cents = to_cents(p.max_amount) if p.max_amount is not None else None
    grouping = b.grouping(key)
    count = grouping.count(span) + 1  # the current transaction is inside its own window
    over_count = count > p.max_count if p.max_count is not None else np.zeros(len(b), bool)
    if max_cents is not None:
        total = grouping.total(span) + b.amount
        over_amount = total > max_cents
    else:
        total, over_amount = None, np.zeros(len(b), bool)

    def explain(where: np.ndarray) -> list[str]:
        span_text = _minutes_text(p.window_minutes)
        totals = total[where].tolist() if total is not None else [0] * len(where)
        limit = _usd(max_cents or 0)
        texts = []
        for n, tot, by_count, by_amount in zip(
            count[where].tolist(),
            totals,
            over_count[where].tolist(),
            over_amount[where].tolist(),
            strict=True,
        ):
            if by_count and not by_amount:
                texts.append(f"{n} {key} transactions in {span_text} (limit {p.max_count})")
            elif by_amount and not by_count:
                texts.append(f"{n} {key} transactions totalling {_usd(tot)} in {span_text} (limit {limit})")
            else:
                texts.append(
                    f"{n} {key} transactions totalling {_usd(tot)} in {span_text} "
                    f"(limits {p.max_count} transactions, {limit})"
                )
        return texts

    return over_count | over_amount, explain


def _amount_spike(rule: Rule, b: _Batch) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, AmountSpikeParams)
    span = p.lookback_days * _US_PER_DAY
    grouping = b.grouping("account")
    n, total = grouping.count(span), grouping.total(span)
    amount = b.amount
    candidate = (amount >= to_cents(p.min_amount)) & (n >= p.min_history) & (total > 0)
    # amount > multiplier * mean, without dividing: amount * n > multiplier * total, compared in
    # float64 where that is exact (< 2**52) and in Python integers/floats where it may not be.
    lhs = amount * n.astype(np.float64)
    rhs = float(p.multiplier) * total.astype(np.float64)
    exact = (np.abs(lhs) < _EXACT_FLOAT) & (np.abs(rhs) < _EXACT_FLOAT)
    fired = candidate & exact & (lhs > rhs)
    for i in np.flatnonzero(candidate & ~exact).tolist():
        fired[i] = int(amount[i]) * int(n[i]) > p.multiplier * int(total[i])

    def explain(where: np.ndarray) -> list[str]:
        texts = []
        for a, k, tot in zip(amount[where].tolist(), n[where].tolist(), total[where].tolist(), strict=True):
            mean = tot / k
            texts.append(
                f"Amount {_usd(a)} is {a / mean:.1f}x the account's {p.lookback_days}-day mean "
                f"of {_usd(round(mean))} over {k} transactions (limit {p.multiplier:g}x)"
            )
        return texts

    return fired, explain


def _new_country(rule: Rule, b: _Batch) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, NewCountryParams)
    foreign = b.country != b.home
    if not foreign.any():
        return foreign, lambda where: []
    span = p.lookback_days * _US_PER_DAY
    seen = b.grouping("account_country").count(span)
    fired = foreign & (b.grouping("account").count(span) >= p.min_history) & (seen == 0)

    def explain(where: np.ndarray) -> list[str]:
        codes = b.rows.countries
        return [
            f"First transaction from {codes[c]} in {p.lookback_days} days (home {codes[h]})"
            for c, h in zip(b.country[where].tolist(), b.home[where].tolist(), strict=True)
        ]

    return fired, explain


def _cnp_category(rule: Rule, b: _Batch) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, CnpCategoryParams)
    names = b.rows.category_names
    risky = np.array([name in p.categories for name in names], bool)
    fired = ~np.asarray(b.rows.card_present, bool) & risky[b.category]
    texts = [f"Card-not-present payment in high-risk category {name}" for name in names]
    return fired, lambda where: [texts[c] for c in b.category[where].tolist()]


def _odd_hours(rule: Rule, b: _Batch) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, OddHoursParams)
    in_range = np.array([_in_hour_range(h, p.start_hour, p.end_hour) for h in range(24)], bool)
    candidate = b.amount >= to_cents(p.min_amount)
    if not candidate.any():
        return candidate, lambda where: []
    local = b.local_seconds()
    fired = candidate & in_range[local // 3600 % 24]

    def explain(where: np.ndarray) -> list[str]:
        zones = [str(home_zone(code)) for code in b.rows.countries]
        return [
            f"Transaction at {s // 3600 % 24:02d}:{s // 60 % 60:02d} local time ({zones[h]}), "
            f"inside odd hours {p.start_hour:02d}:00-{p.end_hour:02d}:00"
            for s, h in zip(local[where].tolist(), b.home[where].tolist(), strict=True)
        ]

    return fired, explain


_EVALUATORS: dict[str, _Evaluator] = {
    "high_value": _high_value,
    "blacklisted_account": _blacklisted,
    "velocity": _velocity,
    "amount_spike": _amount_spike,
    "new_country": _new_country,
    "cnp_high_risk_category": _cnp_category,
    "odd_hours": _odd_hours,
}
