"""Stored windows as the engine's input: rows read back from ``banking_data`` become the same
``Columns`` a generated batch gives, keyed like the history read before them, scored by the engine
the live score task calls (``score_columns``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg

from banking.model import (
    CARD_NOT_PRESENT,
    MERCHANT_CATEGORIES,
    TRANS_TYPES,
    Window,
    micros,
)
from banking.rules.columns import Columns
from banking.rules.engine import Scores, score_columns
from banking.rules.history_totals import read_window_history
from banking.rules.rule_set import RuleSet
from banking.stream.batch import COUNTRY_CODES, IdIndex


def score_stored_window(
    conn: psycopg.Connection, window: Window, records: list[dict[str, Any]], rule_set: RuleSet
) -> Scores:
    """Score a stored window's rows (in (timestamp, uniq_id) order) as the live score task scores a
    generated one: columns keyed like the history read before the window, then ``score_columns``."""
    accounts = IdIndex.of(sorted({r["account_id"] for r in records}))
    cards = IdIndex.of(sorted({r["card_ref"] for r in records}))
    rows = stored_columns(records, accounts, cards)
    account_ids = [r["account_id"] for r in records]
    past = read_window_history(conn, account_ids, accounts, cards, window, rule_set, rows.countries)
    return score_columns(rows, past, rule_set)


def stored_columns(records: list[dict[str, Any]], accounts: IdIndex, cards: IdIndex) -> Columns:
    """The engine's columns of stored rows; codes outside the model's lists get names of their own."""
    countries = _Codes(COUNTRY_CODES)
    trans_types = _Codes(TRANS_TYPES)
    categories = _Codes(MERCHANT_CATEGORIES)
    n = len(records)

    def ids(name: str) -> np.ndarray:
        return np.array([r[name].bytes for r in records], dtype="S16")

    def column(name: str, dtype: Any, codes: _Codes | None = None) -> np.ndarray:
        values = (r[name] for r in records)
        return np.fromiter(values if codes is None else map(codes.index, values), dtype, n)

    return Columns(
        t_us=np.fromiter((micros(r["timestamp"]) for r in records), np.int64, n),
        account=accounts.positions_of(ids("account_id")),
        card=cards.positions_of(ids("card_ref")),
        amount_cents=column("amount_cents", np.int64),
        country=column("country", np.int32, countries),
        home_country=column("home_country", np.int32, countries),
        trans_type=column("trans_type", np.int16, trans_types),
        card_present=np.fromiter((r["card_presense"] != CARD_NOT_PRESENT for r in records), bool, n),
        category=column("merchant_category", np.int16, categories),
        blacklisted=column("account_blacklisted", bool),
        countries=countries.names(),
        trans_type_names=trans_types.names(),
        category_names=categories.names(),
    )


class _Codes(dict[str, int]):
    """Positions of names in a list that starts with ``known``; a new name is appended."""

    def __init__(self, known: tuple[str, ...]):
        super().__init__((name, i) for i, name in enumerate(known))

    def index(self, name: str) -> int:
        code = self.get(name)
        if code is None:
            code = self[name] = len(self)
        return code

    def names(self) -> tuple[str, ...]:
        return tuple(self)
