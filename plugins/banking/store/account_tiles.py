"""The history rules' state: per (account, country) tiles of UTC hours and days, kept in each load's transaction.

``banking_account_hours`` (migration 0014) holds, for each hour in which an account had rows in a
country (from the state's horizon on), their count and amount in cents; ``banking_account_days`` the
same per day, for the days in ``banking_sealed_days`` only (migration 0015). A load calls
:func:`collect_replaced` before it deletes its time range's rows and :func:`replace_range` last: each
hour tile, and each day tile of a sealed day, that the range touches gains the batch's rows and loses
the replaced ones (``state/replace.sql``), so reruns, overlapping loads and loads of the past stay
exact, and no tile depends on another. :func:`seal_days` builds the day tiles of closed days once,
from their rows: a live minute, whose day is not sealed, writes one tile per (account, hour, country)
instead of two. The tiles are counts, not rule results: any look-back can be read
from them, whole days and hours from the tiles and the edges from the raw rows
(``rules.history_totals``).

The block (migration 0017) sums the hour tiles of one range of whole hours per (account, country):
the part of the look-back that every live window of the current hour reads whole, so that a live
window reads one row per (account, country) for it instead of a tile per hour and day.
:func:`ensure_block` builds it for a rule set's look-back (a warm start, the retention DAG's
state task); every load moves it forward once its end reaches a new hour (:func:`advance_block`:
+ the rows of the hours entering it, - those leaving), and a load of an hour inside it changes it
by as much as the hour's tiles (``state/replace.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import psycopg

from banking.db import sql, sql_statements
from banking.model import EPOCH, US_PER_MINUTE, Window, micros
from banking.store.copy_format import PG_EPOCH_US, SIGNATURE, TRAILER
from banking.store.rollups import lock_hours
from banking.stream.batch import COUNTRY_CODES, Batch

_US_PER_HOUR = 60 * US_PER_MINUTE
_HOUR, _DAY = timedelta(hours=1), timedelta(days=1)
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
_CODES = np.array([c.encode() for c in COUNTRY_CODES], dtype="S2")


def collect_replaced(cur: psycopg.Cursor, window: Window) -> None:
    """Remember, per tile, the rows of ``window`` that the load replaces: call it in the load's
    transaction, under its hour locks, before they are deleted from ``banking_data``."""
    start = _counted_from(cur, window)
    if start is not None:
        cur.execute(sql("state/collect_old"), {"from": start, "end": window.end})


def replace_range(cur: psycopg.Cursor, batch: Batch) -> None:
    """Replace the batch's time range in the tiles by the batch's rows: call it in the same
    transaction after :func:`collect_replaced`."""
    start = _counted_from(cur, batch.window)
    if start is None:
        return
    cur.execute(sql("state/create_new"))
    with cur.copy(sql("state/copy_new")) as copy:
        copy.write(encode_new_rows(batch, start))
    for statement in sql_statements("state/replace"):
        cur.execute(statement)


def seal_days(conn: psycopg.Connection, before: datetime) -> list[datetime]:
    """Seal every UTC day that ended by ``before``, has loaded minutes at or after the horizon and is
    not sealed yet, oldest first, each in its own transaction under the day's lock
    (``state/seal_day``); returns the days sealed. Idempotent, and no read's result changes."""
    midnight = EPOCH + (before - EPOCH) // _DAY * _DAY
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
    """The block's whole hours ``[since, until)``; ``until`` stays ``near`` before the hour of the
    latest load's end."""

    since: datetime
    until: datetime
    near: timedelta

    @classmethod
    def at(cls, end: datetime, lookback: timedelta, near: timedelta) -> Block:
        """The block that the windows of the hour of ``end`` read whole: from the first whole hour of
        their look-back ``lookback`` to ``near`` before that hour."""
        hour = EPOCH + (end - EPOCH) // _HOUR * _HOUR
        return cls(hour + _HOUR - lookback, hour - near, near)

    @property
    def lookback(self) -> timedelta:
        """The look-back whose windows read this block (the inverse of :meth:`at`)."""
        return self.until - self.since + self.near + _HOUR

    def moved_to(self, end: datetime) -> Block:
        """The same block ``near`` before the hour of ``end``."""
        return Block.at(end, self.lookback, self.near)


def block(conn: psycopg.Connection | psycopg.Cursor) -> Block | None:
    """The block there is, or None."""
    row = conn.execute(sql("state/block")).fetchone()
    return None if row is None else Block(*row)


def ensure_block(conn: psycopg.Connection, lookback: timedelta, near: timedelta, end: datetime) -> Block:
    """Make the block the one that windows of the hour of ``end`` with ``lookback`` and ``near`` read
    (:meth:`Block.at`): moved forward when it only lags behind, else built (none yet, another
    look-back, or ahead of ``end``: then built back at ``end``)."""
    wanted = Block.at(end, lookback, near)
    have = block(conn)
    if have == wanted:
        return wanted
    if have is not None and (have.lookback, have.near) == (lookback, near) and have.until < wanted.until:
        return advance_block(conn, end) or wanted
    return build_block(conn, wanted)


def build_block(conn: psycopg.Connection, wanted: Block) -> Block:
    """Build ``wanted`` from the tiles in one transaction, under every hour's lock (no load runs
    meanwhile, whichever block there was)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(sql("state/lock_block"))
        cur.execute(sql("load/lock_all_hours"))
        params = {"since": wanted.since, "until": wanted.until, "near": wanted.near}
        for statement in sql_statements("state/build_block"):
            cur.execute(statement, params)
    return wanted


def advance_block(conn: psycopg.Connection, end: datetime) -> Block | None:
    """Move the block forward to the hour of a load's ``end`` (after the load committed), in one
    transaction under the locks of the hours entering and leaving it; a block that would move by its
    length or more is built anew. Returns the block moved, None when there is no block or it is
    there already (then it takes no lock: a load inside a longer transaction holds none of it)."""
    have = block(conn)
    if have is None or have.moved_to(end).until <= have.until:
        return None
    with conn.transaction(), conn.cursor() as cur:
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
