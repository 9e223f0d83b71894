"""Per-(account, country) running totals: the history rules without re-reading each account's week.

**The state** (migration 0013): ``banking_account_totals`` holds, for each minute in which an account
had rows in a country, its count and amount there over every row before the end of that minute
(from the horizon on, plus a per-pair constant); ``banking_account_countries`` lists the pairs.
:func:`replace_range` maintains it in each load's own transaction (``state/replace.sql``): the
pair's totals inside the loaded range are rebuilt on its latest total before the range, and every
later total moves by (new rows - old rows), so reruns, overlapping loads and loads of the past stay
exact. The totals are counts, not rule results: any look-back in whole minutes can be read from them.

**The read** (:func:`read_history`) of a window ``[ws, we)`` for a rule set whose short spans (velocity
windows, hence everything keyed by card) are at most ``S`` and whose long look-backs (amount_spike,
new_country) are ``L1 < L2 < ...``: the raw rows of the window's accounts in ``[ws - S, ws)`` and
in each strip ``[ws - Lk, we - Lk)``, and for each ``k`` one aggregate event per (account, country)
standing for its rows in ``[we - Lk, P(k-1))`` (``P0 = ws - S``, ``Pk = ws - Lk``), placed at
``we - Lk`` with weight = their count and amount = their sum. Nothing else: these pieces tile
``[ws - Lmax, ws)``, the raw history.

Why every row's counts and sums are those of the raw history. The engine counts an event at ``ts``
for a row at ``t`` and span ``W`` when ``t - W < ts <= t``; rows have ``ws <= t < we``. Raw rows are
read as they are. A row ``x`` of the aggregate ``k`` has ``we - Lk <= x < P(k-1)``, and its event
sits at ``e = we - Lk``. For ``W >= Lk``: ``t - W < we - Lk <= e <= x`` and ``x < ws <= t``, so both
count. For a shorter long span ``W = Lj`` (``j < k``): ``x < P(k-1) <= ws - Lj <= t - W``, and
``e <= ws - Lj`` when ``Lk - Lj >= we - ws``, so neither counts. For a short span ``W <= S``:
``x < ws - S <= t - W``, and ``e <= ws - S`` when ``we - L1 <= ws - S``, so neither counts. So under
the conditions ``we - L1 <= ws - S`` and ``L(k+1) - Lk >= we - ws`` (checked, with whole-minute
bounds, a window of at most an hour and a state horizon at or before ``we - Lmax``) the aggregate
event and its rows count for exactly the same (row, span) pairs: every count and sum, hence every
decision, score, hit and explanation, is the raw history's. The aggregate's card is -1 (no card
group): only short spans read cards. Otherwise, and for windows longer than an hour (catch-ups, warm
starts, backfill chunks), the raw read (``pipeline.read_raw_history``) is used, and the log says why.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from uuid import UUID

import numpy as np
import psycopg

from banking.batch import COUNTRY_CODES, Batch, PopulationTables
from banking.db import sql, sql_statements
from banking.history import HistoryArrays, unpack_history
from banking.model import Transaction, Window, micros
from banking.rules import AmountSpikeParams, NewCountryParams, RuleSet, VelocityParams
from banking.scoring import HistoryColumns, KeyTable

log = logging.getLogger(__name__)

MAX_WINDOW = timedelta(hours=1)  # longer windows read raw history
_US_PER_MINUTE = 60_000_000
_PG_EPOCH_US = micros(datetime(2000, 1, 1, tzinfo=UTC))
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
# One banking_state_new row in binary COPY: the field count, then each field after its length.
_NEW_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("account_len", ">i4"),
        ("account", "S16"),
        ("country_len", ">i4"),
        ("country", "S2"),
        ("minute_len", ">i4"),
        ("minute", ">i8"),
        ("txns_len", ">i4"),
        ("txns", ">i8"),
        ("cents_len", ">i4"),
        ("cents", ">i8"),
    ]
)
_AGGREGATE = np.dtype(
    [("t_us", ">i8"), ("account", "S16"), ("txns", ">i8"), ("cents", ">i8"), ("country", ">i4")]
)
_CODES = np.array([c.encode() for c in COUNTRY_CODES], dtype="S2")


# --- maintenance, in the load's transaction ----------------------------------------------------


def collect_replaced(cur: psycopg.Cursor, window: Window) -> None:
    """Remember, per (account, country), the rows of ``window`` that the load replaces: call it in the
    load's transaction, under its hour locks, before they are deleted from ``banking_data``."""
    start = _counted_from(cur, window)
    if start is not None:
        cur.execute(sql("state/collect_old"), {"from": start, "end": window.end})


def replace_range(cur: psycopg.Cursor, batch: Batch) -> None:
    """Replace the running totals of the batch's time range by the batch's rows: call it in the same
    transaction after :func:`collect_replaced` (last: it takes the state's lock, see ``state/lock``)."""
    window = batch.window
    start = _counted_from(cur, window)
    if start is None:
        return
    cur.execute(sql("state/lock"))
    cur.execute(sql("state/create_new"))
    with cur.copy(sql("state/copy_new")) as copy:
        copy.write(encode_new_rows(batch, start))
    for statement in sql_statements("state/replace"):
        cur.execute(statement, {"from": start, "end": window.end})


def _counted_from(cur: psycopg.Cursor, window: Window) -> datetime | None:
    """Where the state starts counting the window's rows (its horizon), None when none of them.

    Retention moves the horizon under every hour's lock, so it holds still during a load."""
    horizon = cur.execute(sql("state/horizon")).fetchone()[0]
    start = window.start if horizon is None else max(window.start, horizon)
    return start if start < window.end else None


def encode_new_rows(batch: Batch, start: datetime) -> bytes:
    """The batch's rows from ``start`` on per (account, country, minute), as a binary COPY payload."""
    keep = batch.t_us >= micros(start)
    minute = batch.t_us[keep] // _US_PER_MINUTE
    account = batch.account[keep].astype(np.int64)
    country = batch.country[keep].astype(np.int64)
    cents = batch.amount_cents[keep]
    first = int(minute.min()) if len(minute) else 0
    span = int(minute.max()) - first + 1 if len(minute) else 1
    key = (account * len(COUNTRY_CODES) + country) * span + (minute - first)
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = (
        np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1]))) if len(key) else np.zeros(0, np.int64)
    )
    rows = np.zeros(len(starts), _NEW_ROW)
    if len(starts):
        group = key[starts]
        pair, offset = np.divmod(group, span)
        who, where = np.divmod(pair, len(COUNTRY_CODES))
        rows["account"] = account_bytes(batch.tables)[who]
        rows["country"] = _CODES[where]
        rows["minute"] = (first + offset) * _US_PER_MINUTE - _PG_EPOCH_US
        rows["txns"] = np.diff(np.append(starts, len(key)))
        rows["cents"] = np.add.reduceat(cents[order], starts)
    rows["fields"] = 5
    for name, size in (("account", 16), ("country", 2), ("minute", 8), ("txns", 8), ("cents", 8)):
        rows[f"{name}_len"] = size
    return _COPY_SIGNATURE + rows.tobytes() + _COPY_TRAILER


@lru_cache(maxsize=4)
def account_bytes(tables: PopulationTables) -> np.ndarray:
    """The account_id bytes (S16) of every account, by population index."""
    ids = tables.account_ids
    result = np.empty(len(ids.sorted_ids), "S16")
    result[ids.positions] = ids.sorted_ids
    return result


# --- the read ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spans:
    """What a rule set looks back over: its short spans' maximum (read raw) and its long look-backs."""

    short: timedelta
    long: tuple[timedelta, ...]  # distinct, ascending

    @classmethod
    def of(cls, rule_set: RuleSet) -> Spans:
        short, long = timedelta(0), set()
        for rule in rule_set.enabled_rules:
            p = rule.params
            if isinstance(p, VelocityParams):
                short = max(short, timedelta(minutes=p.window_minutes))
            elif isinstance(p, AmountSpikeParams | NewCountryParams):
                long.add(timedelta(days=p.lookback_days))
        return cls(short, tuple(sorted(long)))


@dataclass(frozen=True, slots=True)
class Plan:
    """What to read for one window: raw ranges, and (lo, hi) ranges read as one aggregate event at lo."""

    raw: tuple[tuple[datetime, datetime], ...]
    aggregates: tuple[tuple[datetime, datetime], ...]


def plan(window: Window, spans: Spans, horizon: datetime | None) -> Plan | str:
    """The reads that give ``window`` exactly its raw history (see the module docstring), or why not."""
    ws, we = window.start, window.end
    width = we - ws
    if not spans.long:
        return "no look-back in days: the raw history is short"
    if width > MAX_WINDOW:
        return f"the window is longer than {MAX_WINDOW}"
    if any(t.second or t.microsecond for t in (ws, we)):
        return "the window is not whole minutes"
    if we - spans.long[0] > ws - spans.short:
        return f"the shortest look-back {spans.long[0]} is within {width} of the short spans ({spans.short})"
    if any(b - a < width for a, b in zip(spans.long, spans.long[1:], strict=False)):
        return f"two look-backs {spans.long} are closer than the window ({width})"
    if horizon is not None and we - spans.long[-1] < horizon:
        return f"the state starts at {horizon:%Y-%m-%d %H:%M}, after {we - spans.long[-1]:%Y-%m-%d %H:%M}"
    raw = [(ws - spans.short, ws)] if spans.short else []
    aggregates, upper = [], ws - spans.short
    for span in spans.long:
        raw.append((ws - span, we - span))
        if we - span < upper:
            aggregates.append((we - span, upper))
        upper = ws - span
    return Plan(tuple(raw), tuple(aggregates))


@dataclass(frozen=True, slots=True)
class Aggregates:
    """Aggregate events: each stands for ``txns`` rows of one (account, country) worth ``cents``."""

    t_us: np.ndarray  # int64, the event's timestamp
    account: np.ndarray  # S16
    txns: np.ndarray  # int64
    cents: np.ndarray  # int64
    country: np.ndarray  # int32 position in the countries asked for


def horizon(conn: psycopg.Connection) -> datetime | None:
    """The time before which the running totals count nothing (None: they count everything)."""
    return conn.execute(sql("state/horizon")).fetchone()[0]


@contextmanager
def _snapshot(conn: psycopg.Connection) -> Iterator[None]:
    """One read-only snapshot for the reads (their own transaction on an autocommit connection, else
    the caller's), without JIT (``state/snapshot.sql``)."""
    if not conn.autocommit:
        conn.execute(sql("state/no_jit"))
        yield
        return
    with conn.transaction():
        for statement in sql_statements("state/snapshot"):
            conn.execute(statement)
        yield


def read(
    conn: psycopg.Connection, account_ids: Sequence[UUID], the_plan: Plan, countries: Sequence[str]
) -> tuple[HistoryArrays, Aggregates]:
    """The raw rows and the aggregate events of ``the_plan`` for ``account_ids``: two statements
    (call it under :func:`_snapshot`)."""
    ids, codes = sorted(set(account_ids)), list(countries)
    packed_raw = packed_aggregates = None
    if ids and the_plan.raw:
        since, until = zip(*the_plan.raw, strict=True)
        params = {"account_ids": ids, "since": list(since), "until": list(until), "countries": codes}
        packed_raw = conn.execute(sql("state/raw_ranges"), params, binary=True).fetchone()[0]
    if ids and the_plan.aggregates:
        lo, hi = zip(*the_plan.aggregates, strict=True)
        params = {"account_ids": ids, "lo": list(lo), "hi": list(hi), "countries": codes}
        packed_aggregates = conn.execute(sql("state/aggregates"), params, binary=True).fetchone()[0]
    if packed_aggregates is not None and len(packed_aggregates) % _AGGREGATE.itemsize:
        raise ValueError(f"state: {len(packed_aggregates)} bytes is not a whole number of records")
    rows = np.frombuffer(packed_aggregates or b"", dtype=_AGGREGATE)
    aggregates = Aggregates(
        t_us=rows["t_us"].astype(np.int64),
        account=rows["account"].copy(),
        txns=rows["txns"].astype(np.int64),
        cents=rows["cents"].astype(np.int64),
        country=rows["country"].astype(np.int32),
    )
    return unpack_history(packed_raw), aggregates


def plan_for(conn: psycopg.Connection, window: Window, rule_set: RuleSet) -> Plan | None:
    """The state read of ``window`` for ``rule_set``'s own spans, or None (logged) when only the raw
    history is exact."""
    the_plan = plan(window, Spans.of(rule_set), horizon(conn))
    if isinstance(the_plan, str):
        log.debug("window %s: raw history (%s)", window, the_plan)
        return None
    return the_plan


def read_history(conn: psycopg.Connection, batch: Batch, rule_set: RuleSet) -> HistoryColumns | None:
    """The batch's history through the running totals, keyed like ``pipeline.read_raw_history``; None
    when the state cannot give it exactly (then read the raw history)."""
    window = batch.window
    tables = batch.tables
    accounts = [tables.population.accounts[i].account_id for i in np.unique(batch.account).tolist()]
    with _snapshot(conn):
        the_plan = plan_for(conn, window, rule_set)
        if the_plan is None:
            return None
        raw, agg = read(conn, accounts, the_plan, COUNTRY_CODES)
    log.debug(
        "window %s: history from the state, %d raw rows, %d aggregate events",
        window,
        len(raw.t_us),
        len(agg.t_us),
    )
    return _columns(
        raw,
        agg,
        tables.account_ids.positions_of(np.concatenate((raw.account, agg.account))),
        tables.card_ids.positions_of(raw.card),
        Window(window.start - rule_set.lookback, window.start),
    )


def read_keyed(
    conn: psycopg.Connection,
    the_plan: Plan,
    since: Window,
    ordered: list[Transaction],
    accounts: KeyTable,
    cards: KeyTable,
    codes: KeyTable,
) -> HistoryColumns:
    """:func:`read_history` for ``scoring.score_transactions_with`` (backtests): the history of the
    accounts in ``accounts``, keyed in its tables; ``since`` is the history's time range."""
    with _snapshot(conn):
        raw, agg = read(conn, list(accounts), the_plan, tuple(codes))
    log.debug(
        "history from %s: from the state, %d raw rows, %d aggregate events",
        since,
        len(raw.t_us),
        len(agg.t_us),
    )
    ids = np.concatenate((raw.account, agg.account)).tobytes()
    account = np.fromiter((accounts[UUID(bytes=ids[i : i + 16])] for i in range(0, len(ids), 16)), np.int64)
    refs = raw.card.tobytes()
    card = np.fromiter((cards[UUID(bytes=refs[i : i + 16])] for i in range(0, len(refs), 16)), np.int64)
    return _columns(raw, agg, account, card, since)


def _columns(
    raw: HistoryArrays, agg: Aggregates, account: np.ndarray, raw_card: np.ndarray, span: Window
) -> HistoryColumns:
    """Raw rows (weight 1) and aggregate events (card -1) as one history sorted by time; ``account``
    holds the keys of both, raw rows first."""
    n_raw = len(raw.t_us)
    t_us = np.concatenate((raw.t_us, agg.t_us))
    order = np.argsort(t_us, kind="stable")
    return HistoryColumns(
        t_us=t_us[order],
        account=account[order],
        card=np.concatenate((raw_card, np.full(len(agg.t_us), -1, np.int64)))[order],
        amount_cents=np.concatenate((raw.amount_cents, agg.cents))[order],
        country=np.concatenate((raw.country, agg.country))[order],
        since=span.start,
        until=span.end,
        weight=np.concatenate((np.ones(n_raw, np.int64), agg.txns))[order],
    )
