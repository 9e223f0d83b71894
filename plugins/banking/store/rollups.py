"""The window's rollups: its per-minute rows, and the hourly and daily rollups changed by as much.

A load's part runs inside its transaction (``loader``), after its rows were copied; retention
recomputes the hours and days before its cutoff from what is left.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import numpy as np
import psycopg

from banking.db import sql, sql_statements
from banking.model import DECISIONS, EPOCH, TRANS_TYPES, US_PER_MINUTE, Window
from banking.rules.engine import Scores
from banking.stream.batch import Batch

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_SPECIAL = re.compile(r"[\\\t\n\r]")
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
# A load locks the hourly rollups hour by hour up to this many hours, all of them at once beyond.
MAX_LOCKED_HOURS = 48
_BEGINNING = datetime(1, 1, 1, tzinfo=timezone.utc)  # before any row: "every hour before the cutoff"


def rollup_rows(batch: Batch, scores: Scores) -> tuple[bytes, bytes]:
    """The window's rows of ``banking_minute_stats`` and ``banking_minute_rule_hits``, as COPY text
    in the column order of ``load/copy_minute_stats.sql`` and ``load/copy_minute_rule_hits.sql``."""
    minute = batch.t_us // US_PER_MINUTE
    injected = batch.scenario >= 0

    def grouped(mask: np.ndarray, label_codes: np.ndarray, labels: tuple[str, ...]) -> list[str]:
        key = ((minute[mask] * len(labels) + label_codes[mask]) * len(DECISIONS) + scores.decision[mask]) * 2
        key = key + injected[mask]
        keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        amounts = np.zeros(len(keys), dtype=np.int64)
        np.add.at(amounts, inverse, batch.amount_cents[mask])
        lines = []
        for k, count, cents in zip(keys.tolist(), counts.tolist(), amounts.tolist(), strict=True):
            k, inj = divmod(k, 2)
            k, decision = divmod(k, len(DECISIONS))
            m, label = divmod(k, len(labels))
            start = (EPOCH + timedelta(minutes=m)).isoformat()  # a row's window is its minute
            end = (EPOCH + timedelta(minutes=m + 1)).isoformat()
            lines.append(
                f"{start}\t{start}\t{end}\t{_text(labels[label])}\t"
                f"{DECISIONS[decision]}\t{'t' if inj else 'f'}\t{count}\t{cents // 100}.{cents % 100:02d}\n"
            )
        return lines

    stats = grouped(np.ones(len(batch), dtype=bool), batch.trans_type.astype(np.int64), TRANS_TYPES)
    hits: list[str] = []
    for bit, rule_id in enumerate(scores.rule_ids):
        fired = (scores.hit_mask >> bit) & 1 == 1
        if fired.any():
            hits.extend(grouped(fired, np.zeros(len(batch), dtype=np.int64), (rule_id,)))
    return "".join(stats).encode(), "".join(hits).encode()


def hours_of(window: Window) -> tuple[int, int]:
    """The UTC hours a window touches, as hours since the epoch: ``[first, end)``."""
    first = (window.start - EPOCH) // _HOUR
    end = -((EPOCH - window.end) // _HOUR)  # rounded up
    return first, end


def lock_hours(cur: psycopg.Cursor, window: Window) -> None:
    """Take turns with every other load of the UTC hours ``window`` touches, until commit.

    Taken first in a load transaction, so loads of overlapping time never interleave: each locks its
    hours in ascending order (or, for a window of more than ``MAX_LOCKED_HOURS`` hours, all of them at
    once), and a load that waited sees, under READ COMMITTED, what the loads before it committed.
    """
    first, end = hours_of(window)
    if end - first > MAX_LOCKED_HOURS:
        cur.execute(sql("load/lock_all_hours"))
    else:
        for statement in sql_statements("load/lock_hours"):
            cur.execute(statement, {"first_hour": first, "last_hour": end - 1})


def apply_rollup_changes(cur: psycopg.Cursor, window: Window, replaced: dict) -> None:
    """Change the hourly and daily rollups of the hours and days ``window`` touches by what its load
    changed in their minutes, inside its load transaction, under :func:`lock_hours`, after its rows
    and per-minute rollups were written: + those, - the ``replaced`` ones (what ``load/delete_window``
    and ``load/delete_rollups`` returned), so that an hour always holds exactly the sum of its
    minutes (and, for the blacklisted accounts, rows) and a day of its hours, whatever reruns or
    other loads wrote, without reading them (``load/apply_rollup_changes``). The days' locks are
    taken first, after the hour locks, in ascending order (``load/lock_days`` argues why that cannot
    deadlock); the lock on all hours covers the days.
    """
    first, end = hours_of(window)
    if end - first <= MAX_LOCKED_HOURS:
        cur.execute(sql("load/lock_days"), {"first_day": first // 24, "last_day": -(-end // 24) - 1})
    params = {
        "start": window.start,
        "end": window.end,
        "first_hour": EPOCH + first * _HOUR,
        "first_day": EPOCH + first // 24 * _DAY,
        **replaced,
    }
    for statement in sql_statements("load/apply_rollup_changes"):
        cur.execute(statement, params)


def refresh_rollups_before(cur: psycopg.Cursor, cutoff: datetime) -> None:
    """Recompute every hourly and daily rollup before ``cutoff`` (a UTC midnight, so that no day
    straddles it) from the minutes and rows left below it (``retention/recompute_hour_rollups``,
    ``retention/recompute_day_rollups``), under every hour's lock (``load/lock_all_hours``, which
    retention takes first, as loads take their hours' locks first). Retention calls it after
    dropping partitions and pruning minutes."""
    cur.execute(sql("load/lock_all_hours"))
    before = {"first": _BEGINNING, "end": cutoff}
    for statement in (
        *sql_statements("retention/recompute_hour_rollups"),
        *sql_statements("retention/recompute_day_rollups"),
    ):
        cur.execute(statement, before)


def _text(value: str) -> str:
    """``value`` escaped for COPY text."""
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value
