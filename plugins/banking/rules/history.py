"""Account history for the rules: what was loaded before a window, read from ``banking_data``.

:func:`read_history_columns` reads arrays as fixed-width binary straight into NumPy;
:func:`read_history` keys them like the rows to score (the live score task and backtests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg

from banking.db import sql
from banking.id_arrays import Ids, UuidArray, register
from banking.rules.columns import HistoryColumns
from banking.stream.batch import IdIndex

_RECORD = np.dtype(
    [("t_pg", ">i8"), ("account", "S16"), ("card", "S16"), ("amount_cents", ">i8"), ("country", "S2")]
)
PG_EPOCH_US = 946_684_800_000_000  # PostgreSQL's binary timestamps count from 2000-01-01 UTC


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
    account_ids: Ids,
    since: datetime,
    until: datetime,
    countries: Sequence[str],
) -> HistoryArrays:
    """Earlier transactions of ``account_ids`` (UUIDs, or their bytes as an S16 array) with
    ``since <= timestamp < until``, oldest first, read as fixed-width binary records straight into
    arrays (no Python object per row)."""
    ids = UuidArray(account_ids)
    packed = None
    if len(ids) and since < until:
        register(conn)
        params = {"account_ids": ids, "since": since, "until": until}
        packed = conn.execute(sql("history/account_history_columns"), params, binary=True).fetchone()[0]
    return unpack_history(packed, countries)


def unpack_history(packed: bytes | None, countries: Sequence[str]) -> HistoryArrays:
    """The records of ``history/account_history_columns.sql`` (None: no row) as arrays, countries as
    positions in ``countries``."""
    if packed is not None and len(packed) % _RECORD.itemsize:
        raise ValueError(f"history: {len(packed)} bytes is not a whole number of records")
    rows = np.frombuffer(packed or b"", dtype=_RECORD)
    return HistoryArrays(
        t_us=rows["t_pg"].astype(np.int64) + PG_EPOCH_US,
        account=rows["account"].copy(),
        card=rows["card"].copy(),
        amount_cents=rows["amount_cents"].astype(np.int64),
        country=country_positions(rows["country"], countries),
    )


def country_positions(codes: np.ndarray, countries: Sequence[str]) -> np.ndarray:
    """The position of each code (S2) in ``countries`` (the first, if listed twice), ``len(countries)``
    for a code not in it."""
    listed = np.array([c.encode() for c in countries], dtype="S2")
    if not len(listed):
        return np.zeros(len(codes), np.int32)
    order = np.argsort(listed, kind="stable")
    at = np.minimum(np.searchsorted(listed[order], codes), len(listed) - 1)
    return np.where(listed[order][at] == codes, order[at], len(listed)).astype(np.int32)


def read_history(
    conn: psycopg.Connection,
    account_ids: Ids,
    accounts: IdIndex,
    cards: IdIndex,
    since: datetime,
    until: datetime,
    countries: Sequence[str],
) -> HistoryColumns:
    """The history of ``account_ids`` in [since, until) as the engine's columns: accounts and cards keyed
    by their position in ``accounts``/``cards`` (ids outside them get keys of their own), countries by
    their position in ``countries`` (codes outside it: ``len(countries)``)."""
    past = read_history_columns(conn, account_ids, since, until, countries)
    return HistoryColumns(
        t_us=past.t_us,
        account=accounts.positions_of(past.account),
        card=cards.positions_of(past.card),
        amount_cents=past.amount_cents,
        country=past.country,
        since=since,
        until=until,
    )
