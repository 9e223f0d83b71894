"""Shared test data: the project's root, the small generator settings and the day most tests load;
the daily partitions of a table."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from banking.stream.settings import GeneratorSettings

if TYPE_CHECKING:
    import psycopg

ROOT = Path(__file__).resolve().parents[1]

# A small population keeps the tests fast; the shape of the data is the same as the default.
SMALL = GeneratorSettings(seed=7, n_accounts=300, n_merchants=120, rate_per_minute=60.0, fraud_rate=0.05)
DAY = datetime(2026, 11, 2, tzinfo=timezone.utc)


def partitions(conn: psycopg.Connection, parent: str = "banking_data") -> list[str]:
    """The names of ``parent``'s partitions, in order."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass ORDER BY 1",
        (parent,),
    )
    return [r[0] for r in rows]
