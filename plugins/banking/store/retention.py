"""Retention: drop whole daily partitions older than the retention, prune audit and staging rows
and the hour tiles of the history rules (``state``), moving the state's horizon to the cutoff.

A retention shorter than the rules' longest look-back is refused: the windows scored after it would
miss history (``lookback``); with it, the cutoff is at or before every later window's look-back.

The cutoff comes from the run's data interval, never from the clock; the database function also
refuses to drop the current day or any later one, whatever cutoff it is given.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import psycopg

from banking.db import sql, sql_statements
from banking.store import rollups

log = logging.getLogger(__name__)
STAGING_TTL = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class RetentionResult:
    cutoff: date
    dry_run: bool
    partitions: list[str]
    batches: int
    staged: int


def apply_retention(
    conn: psycopg.Connection,
    reference: datetime,
    retention_days: int,
    dry_run: bool = False,
    lookback: timedelta = timedelta(0),
) -> RetentionResult:
    """Drop what is older than ``retention_days`` before ``reference`` (one transaction); refuse a
    retention shorter than ``lookback`` (the rule set's)."""
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
        raise ValueError(f"retention_days must be a positive integer, got {retention_days!r}")
    if timedelta(days=retention_days) < lookback:
        raise ValueError(
            f"retention_days={retention_days} is shorter than the rules' look-back ({lookback}): "
            "the windows scored after it would miss history"
        )
    cutoff = (reference.astimezone(timezone.utc) - timedelta(days=retention_days)).date()
    params = {
        "cutoff": cutoff,
        "stale_before": reference - STAGING_TTL,
    }
    cutoff_ts = datetime.combine(cutoff, time(), tzinfo=timezone.utc)
    with conn.transaction():
        if dry_run:
            partitions = [r[0] for r in conn.execute(sql("retention/partitions_before"), params)]
            batches = conn.execute(sql("retention/count_batches"), {"cutoff": cutoff_ts}).fetchone()[0]
            staged = conn.execute(sql("retention/count_staging"), params).fetchone()[0]
        else:
            # Every hour's lock first, as loads take their hours' locks first: the same order, no deadlock.
            conn.execute(sql("load/lock_all_hours"))
            partitions = [r[0] for r in conn.execute(sql("retention/drop_partitions_before"), params)]
            batches = conn.execute(sql("retention/prune_batches"), {"cutoff": cutoff_ts}).rowcount
            for statement in sql_statements("retention/prune_rollups"):
                conn.execute(statement, {"cutoff": cutoff_ts})
            with conn.cursor() as cur:
                rollups.refresh_rollups_before(cur, cutoff_ts)
            for statement in sql_statements("retention/prune_state"):
                conn.execute(statement, {"cutoff": cutoff_ts})
            staged = conn.execute(sql("retention/prune_staging"), params).rowcount
    return RetentionResult(cutoff, dry_run, partitions, batches, staged)
