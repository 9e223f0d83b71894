"""A window's history through the per-(account, country) tiles of hours and days
(``store.account_tiles``), so that the history rules never re-read each account's week.

**The read** (:func:`read_window_history`) of a window ``[ws, we)`` for a rule set whose short spans
(velocity windows, hence everything keyed by card) are at most ``S`` and whose long look-backs
(amount_spike, new_country) are ``L1 < L2 < ...``: for each ``k``, one aggregate event per (account,
country) standing for its rows in the whole hours ``[ceil(we - Lk), floor(P(k-1)))`` (``P0 = ws - S``,
``Pk = ws - Lk``; UTC hours: the whole sealed days among them from the day tiles, the others from the
hour tiles; for ``k = 1``, the minutes ``[we - L1, ws - S)`` instead when the block holds exactly
those, as it does for the one-minute window after the latest load), placed at the range's start with
weight = their count and amount = their sum; and the raw rows of the window's accounts in the rest of
``[ws - Lmax, ws)`` (each strip ``[ws - Lk, we - Lk)`` and the short spans' ``[ws - S, ws)`` among
them, with the parts of hours next to them). Raw rows are exact wherever they are read.

Why every row's counts and sums are those of the raw history. The engine counts an event at ``ts``
for a row at ``t`` and span ``W`` when ``t - W < ts <= t``; rows have ``ws <= t < we``. A row ``x`` of
the aggregate ``k`` has ``lo <= x < hi`` with ``we - Lk <= lo`` and ``hi <= P(k-1)``, and its event sits
at ``e = lo``. For ``W >= Lk``: ``t - W < we - Lk <= e <= x`` and ``x < ws <= t``, so both count. For a
shorter long span ``W = Lj`` (``j < k``) or a short span ``W <= S``: ``e <= x < hi <= P(k-1) <= ws - W
<= t - W``, so neither counts. So the aggregate event and its rows count for exactly the same
(row, span) pairs: every count and sum, hence every decision, score, hit and explanation, is the raw
history's. The aggregate's card is -1 (no card group): only short spans read cards. This needs whole
minutes, a window of at most an hour, a state horizon at or before ``we - Lmax``, ``we - L1 <= ws - S``
and look-backs at least a window apart (checked: then the strips do not overlap); otherwise, and
for windows longer than an hour (catch-ups, warm starts, backfill chunks), the raw read
(``rules.history.read_history``) is used, and the debug log says why.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import psycopg

from banking.db import sql, sql_statements
from banking.id_arrays import Ids, UuidArray, register
from banking.model import Window, ceil_to, floor_to
from banking.rules.columns import HistoryColumns
from banking.rules.history import (
    PG_EPOCH_US,
    HistoryArrays,
    country_positions,
    read_history,
    unpack_history,
)
from banking.rules.rule_set import AmountSpikeParams, NewCountryParams, RuleSet, VelocityParams
from banking.stream.batch import IdIndex

log = logging.getLogger(__name__)

MAX_WINDOW = timedelta(hours=1)  # longer windows read raw history
_MINUTE, _HOUR, _DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)  # the tiles' spans
_AGGREGATE = np.dtype(
    [("t_pg", ">i8"), ("account", "S16"), ("txns", ">i8"), ("cents", ">i8"), ("country", "S2")]
)


def read_window_history(
    conn: psycopg.Connection,
    account_ids: Ids,
    accounts: IdIndex,
    cards: IdIndex,
    window: Window,
    rule_set: RuleSet,
    countries: Sequence[str],
) -> HistoryColumns:
    """The history that ``rule_set`` sees for ``window`` of ``account_ids``, keyed like
    :func:`~banking.rules.history.read_history`: through the tiles when they give it
    exactly (then the columns carry weights), else the raw rows (the debug log says why); the same
    counts and sums either way."""
    ids = UuidArray(account_ids)
    since = window.start - rule_set.lookback
    with _snapshot(conn):
        the_plan = plan_for(conn, window, rule_set)
        if the_plan is not None:
            raw, agg = read(conn, ids, the_plan, countries)
    if the_plan is None:
        return read_history(conn, ids, accounts, cards, since, window.start, countries)
    log.debug(
        "window %s: history from the tiles, %d raw rows, %d aggregate events",
        window,
        len(raw.t_us),
        len(agg.t_us),
    )
    return _columns(
        raw,
        agg,
        accounts.positions_of(np.concatenate((raw.account, agg.account))),
        cards.positions_of(raw.card),
        Window(since, window.start),
    )


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

    def block_geometry(self) -> tuple[timedelta, timedelta] | None:
        """The look-back and the gap before the window of the block that these spans' one-minute
        windows read whole (``store.account_tiles.Block.at``): the shortest long look-back, and the
        short spans; None without a long look-back or when the block would be empty."""
        if not self.long or self.long[0] - _MINUTE - self.short <= timedelta(0):
            return None
        return self.long[0], self.short


@dataclass(frozen=True, slots=True)
class Plan:
    """What to read for one window: raw ranges, and (lo, hi) ranges read as one aggregate event at lo."""

    raw: tuple[tuple[datetime, datetime], ...]
    aggregates: tuple[tuple[datetime, datetime], ...]
    width: timedelta  # the window's: a raw range wider than it is read account by account
    block: tuple[datetime, datetime] | None = None  # the block's range, when the first aggregate is it

    def by_account(self, since: datetime, until: datetime) -> bool:
        """Whether the raw range is read by an index scan per account (``state/raw_by_account``)
        rather than as all its rows kept for the accounts (``state/raw_by_time``)."""
        return until - since > self.width


def plan(
    window: Window, spans: Spans, horizon: datetime | None, block: tuple[datetime, datetime] | None = None
) -> Plan | str:
    """The reads that give ``window`` exactly its raw history (see the module docstring), or why not.
    The first look-back's aggregate is the ``block`` (``store.account_tiles``) when that is exactly
    ``[we - L1, ws - S)``, as for the one-minute window after the latest load."""
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
    aggregates, upper = [], ws - spans.short
    read_block = block == (we - spans.long[0], upper)
    for span in spans.long:
        if read_block and span == spans.long[0]:
            lo, hi = block
        else:
            lo, hi = ceil_to(we - span, _HOUR), floor_to(upper, _HOUR)
        if lo < hi:
            aggregates.append((lo, hi))
        upper = ws - span
    raw, at = [], ws - spans.long[-1]
    for lo, hi in reversed(aggregates):  # the rest of the look-back, oldest first
        if at < lo:
            raw.append((at, lo))
        at = hi
    if at < ws:
        raw.append((at, ws))
    return Plan(tuple(raw), tuple(aggregates), width, block if read_block else None)


Piece = tuple[datetime, datetime, datetime]  # (the event's time, from, to)


@dataclass(frozen=True, slots=True)
class Pieces:
    """The tiles that make up the aggregate ranges: pieces of hour tiles, of day tiles, and the
    block's event time (None: the block is not read)."""

    hours: list[Piece]
    days: list[Piece]
    block_at: datetime | None = None


def tile_pieces(
    aggregates: Sequence[tuple[datetime, datetime]],
    sealed: Collection[datetime],
    block: tuple[datetime, datetime] | None = None,
) -> Pieces:
    """The tiles that make up each aggregate range ``[lo, hi)``, as (lo, from, to) pieces: the
    ``block`` (``[since, until)``, ``store.account_tiles``) for the range that is it, else (whole
    hours) each run of whole UTC days that are ``sealed`` from the day tiles and the other hours from
    the hour tiles; empty pieces left out."""
    hours: list[Piece] = []
    days: list[Piece] = []
    block_at = None
    for lo, hi in aggregates:
        if block is not None and block_at is None and (lo, hi) == block:
            block_at = lo
        else:
            _split(lo, hi, sealed, hours, days)
    return Pieces(hours, days, block_at)


def _split(lo: datetime, until: datetime, sealed: Collection[datetime], hours: list, days: list) -> None:
    """Add the pieces of ``[lo, until)`` (whole hours), each with the event time ``lo``."""
    at, day = lo, ceil_to(lo, _DAY)
    while day + _DAY <= until:
        if day in sealed:
            end = day
            while end + _DAY <= until and end in sealed:
                end += _DAY
            if at < day:
                hours.append((lo, at, day))
            days.append((lo, day, end))
            at = day = end
        else:
            day += _DAY
    if at < until:
        hours.append((lo, at, until))


@dataclass(frozen=True, slots=True)
class Aggregates:
    """Aggregate events: each stands for ``txns`` rows of one (account, country) worth ``cents``."""

    t_us: np.ndarray  # int64, the event's timestamp
    account: np.ndarray  # S16
    txns: np.ndarray  # int64
    cents: np.ndarray  # int64
    country: np.ndarray  # int32 position in the countries asked for


def horizon(conn: psycopg.Connection) -> datetime | None:
    """The time before which the tiles count nothing (None: they count everything)."""
    return conn.execute(sql("state/horizon")).fetchone()[0]


def sealed_days(conn: psycopg.Connection, ranges: Sequence[tuple[datetime, datetime]]) -> set[datetime]:
    """The sealed days (those with day tiles, ``store.account_tiles.seal_days``) within ``ranges``."""
    since, until = min(lo for lo, _ in ranges), max(hi for _, hi in ranges)
    return {r[0] for r in conn.execute(sql("state/sealed_days"), {"since": since, "until": until})}


def block(conn: psycopg.Connection) -> tuple[datetime, datetime] | None:
    """The block's hours ``[since, until)`` (``store.account_tiles``), None when there is none."""
    row = conn.execute(sql("state/block")).fetchone()
    return None if row is None else (row[0], row[1])


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
    conn: psycopg.Connection,
    account_ids: Ids,
    the_plan: Plan,
    countries: Sequence[str],
) -> tuple[HistoryArrays, Aggregates]:
    """The raw rows and the aggregate events of ``the_plan`` for ``account_ids``: a statement per raw
    range (``state/raw_by_account`` or ``state/raw_by_time``, each shaped so that a prepared generic
    plan reads it the same way) and one for the aggregates (``state/block_events`` when the block is
    the only one, else ``state/aggregates``; call it under :func:`_snapshot`)."""
    ids, codes = UuidArray(account_ids), list(countries)
    register(conn)
    raw_parts, packed_aggregates = [], None
    for since, until in the_plan.raw if len(ids) else ():
        name = "state/raw_by_account" if the_plan.by_account(since, until) else "state/raw_by_time"
        params = {"account_ids": ids, "since": since, "until": until}
        raw_parts.append(conn.execute(sql(name), params, binary=True).fetchone()[0] or b"")
    if len(ids) and the_plan.aggregates:
        pieces = tile_pieces(the_plan.aggregates, sealed_days(conn, the_plan.aggregates), the_plan.block)
        params = {"account_ids": ids, "block_at": pieces.block_at}
        for level, level_pieces in (("hour", pieces.hours), ("day", pieces.days)):
            params |= {
                f"{level}_{name}": [p[i] for p in level_pieces] for i, name in enumerate(("at", "from", "to"))
            }
        block_only = pieces.block_at is not None and not pieces.hours and not pieces.days
        statement = "state/block_events" if block_only else "state/aggregates"  # the block alone: no sums
        packed_aggregates = conn.execute(sql(statement), params, binary=True).fetchone()[0]
    if packed_aggregates is not None and len(packed_aggregates) % _AGGREGATE.itemsize:
        raise ValueError(f"state: {len(packed_aggregates)} bytes is not a whole number of records")
    rows = np.frombuffer(packed_aggregates or b"", dtype=_AGGREGATE)
    aggregates = Aggregates(
        t_us=rows["t_pg"].astype(np.int64) + PG_EPOCH_US,
        account=rows["account"].copy(),
        txns=rows["txns"].astype(np.int64),
        cents=rows["cents"].astype(np.int64),
        country=country_positions(rows["country"], codes),
    )
    return unpack_history(b"".join(raw_parts), codes), aggregates


def plan_for(conn: psycopg.Connection, window: Window, rule_set: RuleSet) -> Plan | None:
    """The state read of ``window`` for ``rule_set``'s own spans, or None (logged) when only the raw
    history is exact."""
    the_plan = plan(window, Spans.of(rule_set), horizon(conn), block(conn))
    if isinstance(the_plan, str):
        log.debug("window %s: raw history (%s)", window, the_plan)
        return None
    return the_plan


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
