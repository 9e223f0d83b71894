"""Ids sent as ``uuid[]`` straight from S16 arrays arrive as the same, sorted, distinct UUIDs."""

from __future__ import annotations

import uuid

import numpy as np
import psycopg

from banking.id_arrays import UuidArray, register


def test_uuid_arrays_arrive_whole_sorted_and_distinct(db: psycopg.Connection) -> None:
    rng = np.random.default_rng(7)
    ids = [uuid.UUID(bytes=rng.bytes(16)) for _ in range(2_000)]
    ids += [uuid.UUID(int=0), uuid.UUID(bytes=b"\xab" + bytes(15)), ids[0]]  # NULs at the end; a repeat
    register(db)
    from_uuids = db.execute("SELECT %s::uuid[]", (UuidArray(ids),)).fetchone()[0]
    from_bytes = db.execute(
        "SELECT %s::uuid[]", (UuidArray(np.array([u.bytes for u in ids], "S16")),)
    ).fetchone()[0]
    assert from_uuids == from_bytes == sorted(set(ids))
    assert db.execute("SELECT %s::uuid[]", (UuidArray([]),)).fetchone()[0] == []
    assert len(UuidArray(UuidArray(ids))) == len(set(ids))
