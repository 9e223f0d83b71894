"""The daily partitions of ``banking_data``: created ahead of the windows that need them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg

from banking.db import sql
from banking.model import Window


def ensure_partitions(conn: psycopg.Connection, window: Window) -> int:
    """Create the window's daily partitions, in a short transaction of its own; returns how many."""
    with conn.transaction():
        return conn.execute(
            sql("load/ensure_partitions"), {"start": window.start, "end": window.end}
        ).fetchone()[0]


def ensure_days_ahead(conn: psycopg.Connection, reference: datetime, days_ahead: int) -> int:
    """Create the partitions from the day before ``reference``'s UTC day to ``days_ahead`` days after it."""
    day = reference.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return ensure_partitions(conn, Window(day - timedelta(days=1), day + timedelta(days=days_ahead + 1)))
