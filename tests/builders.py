"""Test-only records and builders: transactions as objects, turned into the engine's columns.

The product scores columns only (``Batch`` -> ``Columns``, history -> ``HistoryColumns``). Tests
that write transactions one by one, and the per-row reference engine (``tests/unit/reference_rules``),
use the records here; :func:`score_batch` scores them in place through the product's
``score_columns``, so the tests exercise the same engine the pipeline runs.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from operator import attrgetter, ne
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import psycopg

from banking import countries as geo
from banking.model import (
    CARD_NOT_PRESENT,
    CARD_PRESENT,
    CHANNELS,
    MERCHANT_CATEGORIES,
    SCENARIOS,
    TRANS_TYPES,
    RuleHit,
    Window,
    from_micros,
    micros,
)
from banking.rules.columns import Columns, HistoryColumns
from banking.rules.engine import ScoreSummary, score_columns
from banking.rules.rule_set import RuleSet
from banking.stream.batch import Batch
from banking.stream.generator import generate_batch
from banking.stream.settings import GeneratorSettings

_I64 = np.int64
_timestamp_of = attrgetter("timestamp")
_order_of = attrgetter("timestamp", "uniq_id")
_SQL_DIR = Path(__file__).parent / "sql"

US_PER_MINUTE = 60_000_000


@dataclass(slots=True)
class Transaction:
    """One banking transaction: generated fields first, then the fields scoring fills in."""

    uniq_id: UUID
    timestamp: datetime
    window_start: datetime
    window_end: datetime
    trans_type: str
    channel: str
    amount_cents: int  # in the reporting currency (USD)
    currency: str  # the account's currency
    amount_crr_cents: int  # the same amount in the account's currency
    account_id: UUID
    account_holder_name: str
    account_blacklisted: bool
    home_country: str
    card_ref: UUID
    card_id: str  # masked PAN, e.g. 411111******1234
    card_type: str
    card_presense: str  # sic: the original column name
    merchant_id: UUID
    merchant_name: str
    merchant_category: str
    country: str  # where the transaction happened
    city: str
    fraud_scenario: str | None = None  # ground truth; never an input to scoring
    # Filled by scoring:
    risk_score: int = 0
    decision: str | None = None
    rules_triggered: str | None = None
    rules_explanation: str | None = None
    rule_hits: list[RuleHit] = field(default_factory=list)
    rule_set_version: str | None = None


SCORED_FIELDS = (
    "risk_score",
    "decision",
    "rules_triggered",
    "rules_explanation",
    "rule_hits",
    "rule_set_version",
)


def scored(tx: Transaction) -> tuple[Any, ...]:
    """What scoring wrote on ``tx`` (copied, so that a later scoring cannot change it)."""
    return tuple(deepcopy(getattr(tx, name)) for name in SCORED_FIELDS)


@dataclass(frozen=True, slots=True)
class PastTransaction:
    """A transaction loaded before the window being scored, as the rules see it."""

    timestamp: datetime
    account_id: UUID
    card_ref: UUID
    amount_cents: int
    country: str


@dataclass(slots=True)
class History:
    """Past transactions per account, oldest first; ``since`` is the earliest timestamp read."""

    since: datetime
    until: datetime
    by_account: dict[UUID, list[PastTransaction]] = field(default_factory=dict)

    def for_account(self, account_id: UUID) -> list[PastTransaction]:
        return self.by_account.get(account_id, [])


class KeyTable(dict[Hashable, int]):
    """Dense int keys in first-seen order: ``table[value]`` hands out the next int for a new value."""

    def __init__(self, initial: Iterable[Hashable] = ()):
        super().__init__()
        for value in initial:
            self[value]  # noqa: B018 - assigns the next key

    def __missing__(self, value: Hashable) -> int:
        key = self[value] = len(self)
        return key


def country_table() -> KeyTable:
    """A country code table that starts with the known countries."""
    return KeyTable(geo.COUNTRIES)


def _column(
    items: Sequence[Any], name: str, dtype: Any, convert: Callable[[Any], Any] | None = None
) -> np.ndarray:
    values: Iterable[Any] = map(attrgetter(name), items)
    if convert is not None:
        values = map(convert, values)
    return np.fromiter(values, dtype, len(items))


def columns_of(
    transactions: Sequence[Transaction], accounts: KeyTable, cards: KeyTable, codes: KeyTable
) -> Columns:
    """Columns of transactions already sorted by (timestamp, uniq_id); keys and codes from the tables."""
    trans_types = KeyTable(TRANS_TYPES)
    categories = KeyTable(MERCHANT_CATEGORIES)
    txs = transactions
    return Columns(
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


def history_columns_of(
    history: History,
    accounts: Mapping[UUID, int],
    cards: KeyTable,
    codes: KeyTable,
    after: datetime | None = None,
) -> HistoryColumns:
    """The history rows of ``accounts`` with timestamp > ``after``, as columns sorted by time."""
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
    return HistoryColumns(
        t_us=t_us[order],
        account=np.array(keys, _I64)[order],
        card=_column(rows, "card_ref", _I64, cards.__getitem__)[order],
        amount_cents=_column(rows, "amount_cents", _I64)[order],
        country=_column(rows, "country", np.int32, codes.__getitem__)[order],
        since=history.since,
        until=history.until,
    )


def score_batch(transactions: list[Transaction], history: History, rule_set: RuleSet) -> ScoreSummary:
    """Score transaction objects in place (rule_hits, risk_score, decision, ...) through ``score_columns``."""
    ordered = sorted(transactions, key=_order_of)
    accounts, cards, codes = KeyTable(), KeyTable(), country_table()
    rows = columns_of(ordered, accounts, cards, codes)
    if ordered and rule_set.lookback > timedelta(0):
        after = ordered[0].timestamp - rule_set.lookback
        past = history_columns_of(history, accounts, cards, codes, after)
        rows = replace(rows, countries=tuple(codes))  # the history may have added country codes
    else:
        past = HistoryColumns.empty(history.since, history.until)
    scores = score_columns(rows, past, rule_set)
    risk = scores.risk_score.tolist()
    for i, tx in enumerate(ordered):
        tx.rule_hits = scores.hits(i)
        tx.rules_triggered = scores.rules_triggered(i)
        tx.rules_explanation = scores.rules_explanation(i)
        tx.risk_score = risk[i]
        tx.decision = scores.decision_name(i)
        tx.rule_set_version = rule_set.version
    return scores.summary


def transactions_of(batch: Batch) -> list[Transaction]:
    """A generated batch's rows as Transaction objects (unscored)."""
    pop = batch.tables.population
    ids = batch.uniq.tobytes()
    rows = []
    for i, (t, tt, ch, amount, crr, a, c, m, present, sc) in enumerate(
        zip(
            batch.t_us.tolist(),
            batch.trans_type.tolist(),
            batch.channel.tolist(),
            batch.amount_cents.tolist(),
            batch.amount_crr_cents.tolist(),
            batch.account.tolist(),
            batch.card.tolist(),
            batch.merchant.tolist(),
            batch.present.tolist(),
            batch.scenario.tolist(),
            strict=True,
        )
    ):
        account, card, merchant = pop.account(a), pop.card(c), pop.merchant(m)
        rows.append(
            Transaction(
                uniq_id=UUID(bytes=ids[16 * i : 16 * i + 16]),
                timestamp=from_micros(t),
                # a row's window is the minute it falls in, however the time was cut
                window_start=from_micros(t - t % US_PER_MINUTE),
                window_end=from_micros(t - t % US_PER_MINUTE + US_PER_MINUTE),
                trans_type=TRANS_TYPES[tt],
                channel=CHANNELS[ch],
                amount_cents=amount,
                currency=account.currency,
                amount_crr_cents=crr,
                account_id=account.account_id,
                account_holder_name=account.holder_name,
                account_blacklisted=account.blacklisted,
                home_country=account.home_country,
                card_ref=card.card_ref,
                card_id=card.masked_pan,
                card_type=card.card_type,
                card_presense=CARD_PRESENT if present else CARD_NOT_PRESENT,
                merchant_id=merchant.merchant_id,
                merchant_name=merchant.name,
                merchant_category=merchant.category,
                country=merchant.country,
                city=merchant.city,
                fraud_scenario=SCENARIOS[sc] if sc >= 0 else None,
            )
        )
    return rows


def generate_window(settings: GeneratorSettings, window: Window) -> list[Transaction]:
    """The window's generated transactions as objects, sorted by (timestamp, uniq_id)."""
    return transactions_of(generate_batch(settings, window))


def load_history(
    conn: psycopg.Connection, account_ids: Iterable[UUID], since: datetime, until: datetime
) -> History:
    """Earlier transactions of ``account_ids`` with ``since <= timestamp < until``, row by row."""
    history = History(since=since, until=until)
    ids = sorted(set(account_ids))
    if not ids or since >= until:
        return history
    query = (_SQL_DIR / "account_history.sql").read_text(encoding="utf-8")
    with conn.cursor() as cur:
        cur.execute(query, {"account_ids": ids, "since": since, "until": until})
        for account_id, ts, card_ref, amount_cents, country in cur:
            past = PastTransaction(ts, account_id, card_ref, amount_cents, country)
            history.by_account.setdefault(account_id, []).append(past)
    return history
