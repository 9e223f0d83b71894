"""The history rules' state: per (account, country) tiles of UTC hours and days, kept in each load's transaction.

``banking_account_hours`` (migration 0014; partitioned by UTC day beside ``banking_data`` since 0019,
so a live load writes into its own day's key) holds, for each hour in which an account had rows in a
country (from the state's horizon on), their count and amount in cents; ``banking_account_days`` the
same per day, for the days in ``banking_sealed_days`` only (migration 0015). A load calls
:func:`collect_replaced` before it deletes its time range's rows and :func:`replace_range` last: each
hour tile, and each day tile of a sealed day, that the range touches gains the batch's rows and loses
the replaced ones (``state/replace.sql``; ``state/add_new.sql`` when none was replaced, as for a
live minute: no change table, no deletes), so reruns, overlapping loads and loads of the past stay
exact, and no tile depends on another. :func:`seal_days` builds the day tiles of closed days once,
from their rows: a live minute, whose day is not sealed, writes one tile per (account, hour,
country) instead of two. The tiles are counts, not rule results: any look-back can be read from
them, whole days and hours from the tiles and the edges from the raw rows (``rules.history_totals``).

The block (migrations 0017, 0018) sums, per (account, country), the rows of the minutes
``[E + 1 min - L, E - S)``, for ``E`` the latest load's end, ``L`` the live rules' shortest long
look-back and ``S`` their short spans: the part of the look-back that the next one-minute window
reads whole, so that it reads one row per (account, country) for it instead of a tile per hour and
day and the raw rows of the hour at its far end. :func:`ensure_block` builds it (a warm start, the
retention DAG's state task); every load moves it forward to its own end once committed
(:func:`advance_block`: + the rows of the minutes entering it, - those leaving, a minute each for
live loads), and a load of minutes inside it changes it by as much (``state/replace_block.sql``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg

from banking.db import sql, sql_statements
from banking.model import EPOCH, US_PER_MINUTE, Window, ceil_to, floor_to, micros
from banking.store.audit import last_loaded_minute
from banking.store.copy_format import PG_EPOCH_US, SIGNATURE, TRAILER
from banking.store.rollups import lock_hours
from banking.stream.batch import COUNTRY_CODES, Batch

log = logging.getLogger(__name__)

_US_PER_HOUR = 60 * US_PER_MINUTE
_MINUTE, _HOUR, _DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
# One banking_state_new row in binary COPY: the field count, then each field after its length.
_NEW_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("account_len", ">i4"),
        ("account", "S16"),
        ("hour_len", ">i4"),
        ("hour", ">i8"),
        ("country_len", ">i4"),
        ("country", "S2"),
        ("txns_len", ">i4"),
        ("txns", ">i8"),
        ("cents_len", ">i4"),
        ("cents", ">i8"),
    ]
)
_LAST = datetime(9999, 1, 1, tzinfo=timezone.utc)  # after any loaded minute
_CODES = np.array([c.encode() for c in COUNTRY_CODES], dtype="S2")


@dataclass(frozen=True, slots=True)
class Replaced:
    """What a load replaces in the state: its rows from ``start`` (the horizon) on, in ``tiles``
    (account, hour, country) groups, of which those in ``in_block`` count in the block."""

    start: datetime
    tiles: int
    in_block: Window | None


def collect_replaced(cur: psycopg.Cursor, window: Window) -> Replaced | None:
    """Remember, per tile and for the block, the rows of ``window`` that the load replaces: call it in
    the load's transaction, under its hour locks, before they are deleted from ``banking_data``. None
    when the state counts none of the window's rows."""
    start = _counted_from(cur, window)
    if start is None:
        return None
    cur.execute(sql("state/collect_old"), {"from": start, "end": window.end})
    tiles = cur.rowcount
    # The part of the window inside the block holds still until commit: moving the block over it
    # takes the lock of an hour that this load holds.
    have = block(cur)
    in_block = None if have is None else have.overlap(Window(start, window.end))
    if in_block is not None:
        cur.execute(sql("state/collect_old_block"), {"since": in_block.start, "until": in_block.end})
    return Replaced(start, tiles, in_block)


def replace_range(cur: psycopg.Cursor, batch: Batch, replaced: Replaced | None) -> None:
    """Replace the batch's time range in the tiles and the block by the batch's rows: call it in the
    same transaction after :func:`collect_replaced`, once the batch's rows are in ``banking_data``."""
    if replaced is None:
        return
    cur.execute(sql("state/create_new"))
    with cur.copy(sql("state/copy_new")) as copy:
        copy.write(encode_new_rows(batch, replaced.start))
    for statement in sql_statements("state/replace" if replaced.tiles else "state/add_new"):
        cur.execute(statement)
    if replaced.in_block is not None:
        params = {"since": replaced.in_block.start, "until": replaced.in_block.end}
        for statement in sql_statements("state/replace_block"):
            cur.execute(statement, params)


def seal_days(conn: psycopg.Connection, before: datetime) -> list[datetime]:
    """Seal every UTC day that ended by ``before``, has loaded minutes at or after the horizon and is
    not sealed yet, oldest first, each in its own transaction under the day's lock
    (``state/seal_day``); returns the days sealed. Idempotent, and no read's result changes."""
    midnight = floor_to(before, _DAY)
    days = [r[0] for r in conn.execute(sql("state/unsealed_days"), {"before": midnight})]
    for day in days:
        number = (day - EPOCH) // _DAY
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(sql("state/lock_day"))
            cur.execute(sql("load/lock_days"), {"first_day": number, "last_day": number})
            for statement in sql_statements("state/seal_day"):
                cur.execute(statement, {"day": day})
    return days


@dataclass(frozen=True, slots=True)
class Block:
    """The block's whole minutes ``[since, until)``: the part of the look-back that the one-minute
    window after the latest load's end reads whole, ``until`` being ``near`` before that end."""

    since: datetime
    until: datetime
    near: timedelta

    @classmethod
    def at(cls, end: datetime, lookback: timedelta, near: timedelta) -> Block:
        """The block that the one-minute window starting at ``end`` (a whole minute) reads whole,
        with the look-back ``lookback`` and short spans ``near``: ``[end + 1 min - lookback, end - near)``."""
        return cls(end + _MINUTE - lookback, end - near, near)

    @property
    def lookback(self) -> timedelta:
        """The look-back whose windows read this block (the inverse of :meth:`at`)."""
        return self.until - self.since + self.near + _MINUTE

    def moved_to(self, end: datetime) -> Block:
        """The same block for the window starting at ``end``."""
        return Block.at(end, self.lookback, self.near)

    def overlap(self, window: Window) -> Window | None:
        """The part of ``window`` inside the block, None when none."""
        since, until = max(self.since, window.start), min(self.until, window.end)
        return Window(since, until) if since < until else None


def block(conn: psycopg.Connection | psycopg.Cursor) -> Block | None:
    """The block there is, or None."""
    row = conn.execute(sql("state/block")).fetchone()
    return None if row is None else Block(*row)


def ensure_block(
    conn: psycopg.Connection, lookback: timedelta, near: timedelta, reference: datetime
) -> Block:
    """Make the block the one that the window after the latest load (``reference`` when nothing was
    loaded) reads with ``lookback`` and ``near`` (:meth:`Block.at`): moved forward when it only lags
    behind, kept when a load is moving it already, else built (none yet, or another look-back)."""
    end = last_loaded_minute(conn, _LAST) or floor_to(reference, _MINUTE)
    wanted = Block.at(end, lookback, near)
    have = block(conn)
    if have is not None and (have.lookback, have.near) == (lookback, near):
        if have.until < wanted.until:
            return advance_block(conn, end) or block(conn) or wanted
        return have
    return build_block(conn, wanted)


def build_block(conn: psycopg.Connection, wanted: Block) -> Block:
    """Build ``wanted`` in one transaction, under every hour's lock (no load runs meanwhile, whichever
    block there was): its whole hours from the tiles, the minutes at both ends from their rows."""
    hours_since = min(ceil_to(wanted.since, _HOUR), wanted.until)
    hours_until = max(floor_to(wanted.until, _HOUR), hours_since)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(sql("state/lock_block"))
        cur.execute(sql("load/lock_all_hours"))
        horizon = cur.execute(sql("state/horizon")).fetchone()[0]
        params = {
            "since": wanted.since,
            "until": wanted.until,
            "near": wanted.near,
            "hours_since": hours_since,
            "hours_until": hours_until,
            "counted_from": horizon or wanted.since,
        }
        for statement in sql_statements("state/build_block"):
            cur.execute(statement, params)
    return wanted


def prune_block(conn: psycopg.Connection) -> int:
    """Remove the block's rows that its moves left at zero (``state/prune_block``), under its lock;
    returns how many. Reads skip them: this only gives their room back."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(sql("state/lock_block"))
        cur.execute(sql("state/prune_block"))
        return cur.rowcount


def advance_block(conn: psycopg.Connection, end: datetime) -> Block | None:
    """Move the block forward to the window after a load's ``end`` (once the load committed), in one
    transaction under the locks of the hours that the minutes entering and leaving it are in; a
    block that would move by its length or more is built anew. Returns the block moved, None when
    there is no block, it is there already (then it takes no lock: a load inside a longer
    transaction holds none of it), or a lock it needs is held (an uncommitted load of its minutes,
    a move or a build): a later load moves it, and windows read the tiles until then."""
    have = block(conn)
    if have is None or have.moved_to(end).until <= have.until:
        return None
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(sql("state/move_no_wait"))
            cur.execute(sql("state/lock_block"))  # one move at a time: re-read the block under it
            have = block(cur)
            if have is None:
                return None
            wanted = have.moved_to(end)
            if wanted.until <= have.until:
                return None
            if wanted.since < have.until:
                lock_hours(cur, Window(have.since, wanted.since))
                lock_hours(cur, Window(have.until, wanted.until))
                horizon = cur.execute(sql("state/horizon")).fetchone()[0]
                params = {
                    "old_since": have.since,
                    "old_until": have.until,
                    "since": wanted.since,
                    "until": wanted.until,
                    "counted_from": horizon or have.since,
                }
                for statement in sql_statements("state/advance_block"):
                    cur.execute(statement, params)
                return wanted
    except psycopg.errors.LockNotAvailable:
        log.info(
            "the history block stays where it is for now: a load of its minutes, or its build, holds a lock"
        )
        return None
    return build_block(conn, wanted)


def _counted_from(cur: psycopg.Cursor, window: Window) -> datetime | None:
    """Where the state starts counting the window's rows (its horizon), None when none of them.

    Retention moves the horizon under every hour's lock, so it holds still during a load."""
    horizon = cur.execute(sql("state/horizon")).fetchone()[0]
    start = window.start if horizon is None else max(window.start, horizon)
    return start if start < window.end else None


def encode_new_rows(batch: Batch, start: datetime) -> bytes:
    """The batch's rows from ``start`` on per (account, hour, country), as a binary COPY payload."""
    keep = batch.t_us >= micros(start)
    hour = batch.t_us[keep] // _US_PER_HOUR
    account = batch.account[keep].astype(np.int64)
    country = batch.country[keep].astype(np.int64)
    cents = batch.amount_cents[keep]
    first = int(hour.min()) if len(hour) else 0
    span = int(hour.max()) - first + 1 if len(hour) else 1
    key = (account * span + (hour - first)) * len(COUNTRY_CODES) + country
    order = np.argsort(key, kind="stable")
    key = key[order]
    starts = (
        np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1]))) if len(key) else np.zeros(0, np.int64)
    )
    rows = np.zeros(len(starts), _NEW_ROW)
    if len(starts):
        group = key[starts]
        pair, where = np.divmod(group, len(COUNTRY_CODES))
        who, offset = np.divmod(pair, span)
        rows["account"] = batch.tables.population.account_id[who]
        rows["hour"] = (first + offset) * _US_PER_HOUR - PG_EPOCH_US
        rows["country"] = _CODES[where]
        rows["txns"] = np.diff(np.append(starts, len(key)))
        rows["cents"] = np.add.reduceat(cents[order], starts)
    rows["fields"] = 5
    for name, size in (("account", 16), ("hour", 8), ("country", 2), ("txns", 8), ("cents", 8)):
        rows[f"{name}_len"] = size
    return SIGNATURE + rows.tobytes() + TRAILER
