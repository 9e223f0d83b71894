"""The history rules' per-(account, country) running totals, maintained in each load's transaction.

``banking_account_totals`` (migration 0013) holds, for each minute in which an account had rows in a
country, its count and amount there over every row before the end of that minute (from the state's
horizon on, plus a per-pair constant); ``banking_account_countries`` lists the pairs. A load calls
:func:`collect_replaced` before it deletes its time range's rows and :func:`replace_range` last:
each pair's totals inside the range are rebuilt on its latest total before the range, and every
later total moves by (new rows - old rows), so reruns, overlapping loads and loads of the past stay
exact (``state/replace.sql``). The totals are counts, not rule results: any look-back in whole
minutes can be read from them (``rules.history_totals``).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import psycopg

from banking.db import sql, sql_statements
from banking.model import US_PER_MINUTE, Window, micros
from banking.store.copy_format import PG_EPOCH_US, SIGNATURE, TRAILER
from banking.stream.batch import COUNTRY_CODES, Batch

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
_CODES = np.array([c.encode() for c in COUNTRY_CODES], dtype="S2")


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
    minute = batch.t_us[keep] // US_PER_MINUTE
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
        rows["account"] = batch.tables.population.account_id[who]
        rows["country"] = _CODES[where]
        rows["minute"] = (first + offset) * US_PER_MINUTE - PG_EPOCH_US
        rows["txns"] = np.diff(np.append(starts, len(key)))
        rows["cents"] = np.add.reduceat(cents[order], starts)
    rows["fields"] = 5
    for name, size in (("account", 16), ("country", 2), ("minute", 8), ("txns", 8), ("cents", 8)):
        rows[f"{name}_len"] = size
    return SIGNATURE + rows.tobytes() + TRAILER
