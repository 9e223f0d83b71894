"""Ids as query parameters: sorted, distinct 16-byte NumPy arrays sent as ``uuid[]`` in PostgreSQL's
binary array format, without a Python ``UUID`` object per id (a window of 100,000 rows touches about
as many accounts: building, sorting and dumping their ``UUID`` objects took seconds)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from uuid import UUID

import numpy as np
import psycopg
from psycopg import pq
from psycopg.adapt import Dumper

_UUID_OID, _UUID_ARRAY_OID = 2950, 2951


class UuidArray:
    """Distinct ids in ascending order (PostgreSQL's ``uuid`` order, and Python's ``UUID`` order)."""

    __slots__ = ("ids",)

    def __init__(self, ids: Ids) -> None:
        if isinstance(ids, UuidArray):  # already sorted and distinct
            self.ids = ids.ids
            return
        if not isinstance(ids, np.ndarray):
            ids = np.array([u.bytes for u in ids], dtype="S16")
        self.ids = np.unique(ids.astype("S16", copy=False))

    def __len__(self) -> int:
        return len(self.ids)


Ids = UuidArray | np.ndarray | Iterable[UUID]  # ids: UUIDs, or their bytes as an S16 array


class UuidArrayDumper(Dumper):
    """A :class:`UuidArray` as a binary ``uuid[]``: the array header, then each id after its length."""

    format = pq.Format.BINARY
    oid = _UUID_ARRAY_OID

    def dump(self, obj: UuidArray) -> bytes:
        n = len(obj.ids)
        if not n:
            return struct.pack(">iiI", 0, 0, _UUID_OID)
        items = np.empty(n, [("size", ">i4"), ("id", "S16")])
        items["size"] = 16
        items["id"] = obj.ids
        return struct.pack(">iiIii", 1, 0, _UUID_OID, n, 1) + items.tobytes()


def register(conn: psycopg.Connection) -> None:
    """Let queries on ``conn`` take :class:`UuidArray` parameters."""
    conn.adapters.register_dumper(UuidArray, UuidArrayDumper)
