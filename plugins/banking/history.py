"""Account history for the rules: what was loaded before a window, read from ``banking_data``.

:func:`load_history` gives objects (backtests, ``rules.score_batch``); :func:`read_history_columns`
gives arrays, read as fixed-width binary COPY straight into NumPy (the live pipeline).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import numpy as np
import psycopg

from banking.db import sql
from banking.model import History, PastTransaction


def load_history(
    conn: psycopg.Connection, account_ids: Iterable[UUID], since: datetime, until: datetime
) -> History:
    """Earlier transactions of ``account_ids`` with ``since <= timestamp < until``, oldest first."""
    history = History(since=since, until=until)
    ids = sorted(set(account_ids))
    if not ids or since >= until:
        return history
    by_account = history.by_account
    with conn.cursor() as cur:
        cur.execute(sql("history/account_history"), {"account_ids": ids, "since": since, "until": until})
        for account_id, ts, card_ref, amount_cents, country in cur:
            past = PastTransaction(ts, account_id, card_ref, amount_cents, country)
            events = by_account.get(account_id)
            if events is None:
                by_account[account_id] = [past]
            else:
                events.append(past)
    return history


_RECORD = np.dtype(
    [("t_us", ">i8"), ("account", "S16"), ("card", "S16"), ("amount_cents", ">i8"), ("country", ">i4")]
)


@dataclass(frozen=True, slots=True)
class HistoryArrays:
    """Earlier transactions, oldest first: ids as 16-byte strings, countries as positions in a list."""

    t_us: np.ndarray  # int64 µs since the epoch
    account: np.ndarray  # S16: the account_id bytes
    card: np.ndarray  # S16: the card_ref bytes
    amount_cents: np.ndarray  # int64
    country: np.ndarray  # int32 position in the ``countries`` asked for; len(countries) when not in it


def read_history_columns(
    conn: psycopg.Connection,
    account_ids: Iterable[UUID],
    since: datetime,
    until: datetime,
    countries: Sequence[str],
) -> HistoryArrays:
    """:func:`load_history` as arrays, without a Python object (or a protocol message) per row."""
    ids = sorted(set(account_ids))
    packed = None
    if ids and since < until:
        params = {"account_ids": ids, "since": since, "until": until, "countries": list(countries)}
        packed = conn.execute(sql("history/account_history_columns"), params, binary=True).fetchone()[0]
    return unpack_history(packed)


def unpack_history(packed: bytes | None) -> HistoryArrays:
    """The records of ``history/account_history_columns.sql`` (None: no row) as arrays."""
    if packed is not None and len(packed) % _RECORD.itemsize:
        raise ValueError(f"history: {len(packed)} bytes is not a whole number of records")
    rows = np.frombuffer(packed or b"", dtype=_RECORD)
    return HistoryArrays(
        t_us=rows["t_us"].astype(np.int64),
        account=rows["account"].copy(),
        card=rows["card"].copy(),
        amount_cents=rows["amount_cents"].astype(np.int64),
        country=rows["country"].astype(np.int32),
    )
