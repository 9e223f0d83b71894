"""The rows as the evaluators see them: validated columns plus the derived arrays the rules share."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from banking.rules.columns import Columns, HistoryColumns
from banking.rules.local_time import home_zone, local_seconds
from banking.rules.windows import Events, Grouping, dense

_I64 = np.int64


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


class PreparedRows:
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
        self._events: Events | None = None
        self._groupings: dict[str, Grouping] = {}
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
    def events(self) -> Events:
        if self._events is None:
            account = np.asarray(self.rows.account, _I64)
            self._events = Events(self.t_us, account, self.amount, self._history, self._lookback_us)
        return self._events

    def grouping(self, by: str) -> Grouping:
        """The account, card or account_country grouping of the events."""
        grouping = self._groupings.get(by)
        if grouping is None:
            grouping = self._groupings[by] = getattr(self, f"_by_{by}")()
        return grouping

    def _by_account(self) -> Grouping:
        ev = self.events
        return Grouping(ev, ev.account_b, ev.account_h)

    def _by_card(self) -> Grouping:
        """A card's events: its batch rows, and the history rows of the card *of the account of the
        card's first batch row* (a card's history is read through its account)."""
        ev = self.events
        card_b, card_h, n_cards = dense(
            np.asarray(self.rows.card, _I64), np.asarray(ev.history_column("card"), _I64)
        )
        first = np.full(n_cards, len(card_b), _I64)
        np.minimum.at(first, card_b, np.arange(len(card_b), dtype=_I64))
        owner = ev.account_b[first]
        same = (card_h >= 0) & (owner[np.maximum(card_h, 0)] == ev.account_h)
        return Grouping(ev, card_b, np.where(same, card_h, -1))

    def _by_account_country(self) -> Grouping:
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
        _, found, _ = dense(foreign, np.concatenate((pair_b, pair_h)))
        return Grouping(ev, found[: len(pair_b)], found[len(pair_b) :])

    def local_seconds(self) -> np.ndarray:
        if self._local is None:
            zones = [home_zone(code) for code in self.rows.countries]
            self._local = local_seconds(self.t_us, self.home, zones)
        return self._local
