"""Load one scored window into ``banking_data``: one COPY inside one transaction that replaces it.

Inside the transaction: lock the window, check the population is seeded, delete what an earlier
run of the same window left, COPY the rows, replace the window's share of the per-minute rollups,
recompute the hourly and daily rollups of its hours and days, replace its share of the history
rules' running totals (``state.py``: the replaced rows are counted before the delete, the totals
written last), write the audit row, drop the staged scores. Either all of it commits or none of it does, so a rerun leaves exactly the same rows,
rollups and one audit row.

Rows are encoded in binary COPY format straight from the batch's columns
(:func:`copy_format.encode_chunks`), chunk by chunk while the server ingests the previous chunk.
Tasks on different workers hand the scores over through ``banking_staging`` (:func:`stage` then
:func:`load_staged`): the load task regenerates the batch itself, so only the scores travel, a few
bytes per row.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import time
import zlib
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import psycopg
from psycopg.copy import QueuedLibpqWriter
from psycopg.types.json import Jsonb

from banking import copy_format, state
from banking.batch import Batch
from banking.db import sql, sql_statements
from banking.model import (
    APPROVED,
    DECISIONS,
    EPOCH,
    REJECTED,
    REVIEW,
    TRANS_TYPES,
    Window,
    micros,
)
from banking.rules import ScoreSummary
from banking.scoring import Scores

log = logging.getLogger(__name__)

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_SPECIAL = re.compile(r"[\\\t\n\r]")
_STAGE_FORMAT = 3  # what stage() writes: the scores of a batch (1 held COPY text, 2 JSON explanations)
_US_PER_MINUTE = 60_000_000
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
# A load locks the hourly rollups hour by hour up to this many hours, all of them at once beyond.
MAX_LOCKED_HOURS = 48


class LoadError(RuntimeError):
    """A window that cannot be loaded as it is; nothing of it was written."""


@dataclass(slots=True)
class BatchSummary:
    """What a scored window holds: the audit row's figures, and the per-rule hits for the logs."""

    rows: int
    approved: int
    review: int
    rejected: int
    injected_fraud: int
    amount_cents: int
    rule_set_version: str
    settings_digest: str
    population_version: str
    hits_by_rule: dict[str, int] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)  # the generator settings the window was drawn with

    @classmethod
    def of(
        cls, batch: Batch, scores: Scores, settings_digest: str, population_version: str, settings: dict
    ) -> BatchSummary:
        """The figures of a scored batch; the decision and hit counts are the scores' own summary."""
        if len(scores.decision) != len(batch):
            raise LoadError(f"{len(scores.decision)} scores for a batch of {len(batch)} rows")
        counted = scores.summary
        return cls(
            rows=len(batch),
            approved=counted.decisions[APPROVED],
            review=counted.decisions[REVIEW],
            rejected=counted.decisions[REJECTED],
            injected_fraud=int((batch.scenario >= 0).sum()),
            amount_cents=int(batch.amount_cents.sum()),
            rule_set_version=counted.rule_set_version,
            settings_digest=settings_digest,
            population_version=population_version,
            hits_by_rule={k: v for k, v in sorted(counted.hits_by_rule.items()) if v},
            settings=settings,
        )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LoadResult:
    window: Window
    deleted: int  # rows that earlier loads had left in the window's time range
    inserted: int
    partitions_created: int
    seconds: float


# --- staging: the scores, from the score task to the load task --------------------------------


def pack_scores(scores: Scores) -> bytes:
    """The scores as compressed bytes: a JSON header, the arrays, then every explanation (row by
    row, in bit order) joined by NUL, which no PostgreSQL text holds. No code runs when reading them."""
    hit_rows = sorted(scores.explanations)
    texts = [text for i in hit_rows for text in scores.explanations[i]]
    blob = "\0".join(texts).encode()
    if blob.count(0) != max(len(texts) - 1, 0):
        raise LoadError("a rule explanation contains a NUL character, which PostgreSQL text cannot hold")
    header = json.dumps(
        {
            "format": _STAGE_FORMAT,
            "rows": len(scores.decision),
            "rule_ids": list(scores.rule_ids),
            "rule_scores": list(scores.rule_scores),
            "hit_rows": len(hit_rows),
            "texts": len(texts),
            "summary": asdict(scores.summary),
        },
        ensure_ascii=False,
    ).encode()
    arrays = (
        scores.risk_score.astype("<i2").tobytes()
        + scores.decision.astype("<i1").tobytes()
        + scores.hit_mask.astype("<i8").tobytes()
        + np.asarray(hit_rows, dtype="<i4").tobytes()
        + np.array([len(scores.explanations[i]) for i in hit_rows], dtype="<i1").tobytes()
    )
    return zlib.compress(struct.pack("<I", len(header)) + header + arrays + blob, 1)


def unpack_scores(packed: bytes) -> Scores:
    """The scores :func:`pack_scores` packed; a LoadError for anything else."""
    try:
        data = zlib.decompress(packed)
        (size,) = struct.unpack_from("<I", data)
        header = json.loads(data[4 : 4 + size])
    except (zlib.error, struct.error, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != _STAGE_FORMAT:
        raise LoadError(
            "the staged scores were written by another version of the pipeline: clear the run's score "
            "and load tasks so that both run with the same code"
        )
    n, hits, offset = header["rows"], header["hit_rows"], 4 + size
    risk = np.frombuffer(data, "<i2", n, offset).astype(np.int64)
    decision = np.frombuffer(data, "<i1", n, offset + 2 * n).astype(np.int8)
    mask = np.frombuffer(data, "<i8", n, offset + 3 * n).astype(np.int64)
    offset += 11 * n
    hit_rows = np.frombuffer(data, "<i4", hits, offset).tolist()
    counts = np.frombuffer(data, "<i1", hits, offset + 4 * hits)
    texts = data[offset + 5 * hits :].decode().split("\0") if header["texts"] else []
    if len(texts) != header["texts"] or int(counts.sum()) != len(texts):
        raise LoadError("the staged scores are damaged: their explanations do not match their rows")
    ends = np.cumsum(counts).tolist()
    starts = [0, *ends[:-1]]
    return Scores(
        rule_ids=tuple(header["rule_ids"]),
        rule_scores=tuple(header["rule_scores"]),
        risk_score=risk,
        decision=decision,
        hit_mask=mask,
        explanations={i: tuple(texts[a:b]) for i, a, b in zip(hit_rows, starts, ends, strict=True)},
        summary=ScoreSummary(**header["summary"]),
    )


# --- rollups ---------------------------------------------------------------------------------


def rollup_rows(batch: Batch, scores: Scores) -> tuple[bytes, bytes]:
    """The window's rows of ``banking_minute_stats`` and ``banking_minute_rule_hits``, as COPY text
    in the column order of ``load/copy_minute_stats.sql`` and ``load/copy_minute_rule_hits.sql``."""
    minute = batch.t_us // _US_PER_MINUTE
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
            start = (EPOCH + timedelta(minutes=m)).isoformat()
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


def refresh_hour_and_day_rollups(cur: psycopg.Cursor, window: Window) -> None:
    """Recompute the hourly rollups of the hours ``window`` touches, inside its load transaction,
    under :func:`lock_hours`, after its rows and per-minute rollups were written
    (``load/refresh_hour_rollups``).

    An hour is recomputed from every minute (and, for the blacklisted accounts, row) in it, so it
    always holds exactly their sum, whatever reruns or other loads wrote. Then the UTC days of those
    hours are recomputed from their hours the same way (``load/refresh_day_rollups``), under per-day
    locks taken after the hour locks, in ascending order (``load/lock_days`` argues why that cannot
    deadlock); the lock on all hours covers the days.
    """
    first, end = hours_of(window)
    all_at_once = end - first > MAX_LOCKED_HOURS
    hours = {"first": EPOCH + first * _HOUR, "end": EPOCH + end * _HOUR}
    for statement in sql_statements("load/refresh_hour_rollups"):
        cur.execute(statement, hours)
    first_day, end_day = first // 24, -(-end // 24)  # the days of those hours, since the epoch
    if not all_at_once:
        cur.execute(sql("load/lock_days"), {"first_day": first_day, "last_day": end_day - 1})
    days = {"first": EPOCH + first_day * _DAY, "end": EPOCH + end_day * _DAY}
    for statement in sql_statements("load/refresh_day_rollups"):
        cur.execute(statement, days)


def last_loaded_minute(conn: psycopg.Connection, before: datetime) -> datetime | None:
    """The end of the latest minute loaded before ``before``, or None when nothing was."""
    return conn.execute(sql("load/last_loaded_minute"), {"before": before}).fetchone()[0]


def loaded_before(conn: psycopg.Connection, before: datetime) -> bool:
    """Whether any minute before ``before`` was loaded."""
    return conn.execute(sql("load/loaded_before"), {"before": before}).fetchone()[0]


def ensure_partitions(conn: psycopg.Connection, window: Window) -> int:
    """Create the window's daily partitions, in a short transaction of its own; returns how many."""
    with conn.transaction():
        return conn.execute(sql("load/ensure_partitions"), _bounds(window)).fetchone()[0]


def replace_window(
    conn: psycopg.Connection, batch: Batch, scores: Scores, summary: BatchSummary, run_id: str | None = None
) -> LoadResult:
    """Replace the rows of the batch's window with the scored batch and write its audit row, atomically."""
    started = time.perf_counter()
    created = ensure_partitions(conn, batch.window)
    with conn.transaction():
        deleted, inserted = _replace(conn, batch, scores, summary, run_id)
    return LoadResult(batch.window, deleted, inserted, created, time.perf_counter() - started)


def stage(conn: psycopg.Connection, window: Window, scores: Scores, summary: BatchSummary) -> int:
    """Keep a window's scores in ``banking_staging`` for the load task; returns their packed size."""
    packed = pack_scores(scores)
    with conn.transaction():
        conn.execute(
            sql("load/stage_put"),
            {**_bounds(window), "rows": summary.rows, "summary": Jsonb(summary.as_dict()), "payload": packed},
        )
    return len(packed)


def load_staged(conn: psycopg.Connection, batch: Batch, run_id: str | None = None) -> LoadResult:
    """Load ``batch`` with the scores staged for its window (see :func:`stage`) and remove them, in
    one transaction.

    When nothing is staged because this same run's load already committed (a worker lost after
    COMMIT, before Airflow heard of it, then retried), the window is loaded: report it, change nothing.
    """
    started = time.perf_counter()
    window = batch.window
    created = ensure_partitions(conn, window)
    with conn.transaction():
        with conn.cursor() as cur:
            lock_hours(cur, window)
        staged = conn.execute(sql("load/stage_get"), _bounds(window)).fetchone()
        if staged is None:
            rows, minutes = 0, 0
            if run_id is not None:
                rows, minutes = conn.execute(
                    sql("load/loaded_by_run"), {**_bounds(window), "run_id": run_id}
                ).fetchone()
            if minutes and minutes == minutes_of(window):
                log.info("window %s was already loaded by run %s: nothing to do", window, run_id)
                return LoadResult(window, 0, rows, created, time.perf_counter() - started)
            raise LoadError(
                f"nothing is staged for window {window}: the score task of this run must succeed first "
                "(clear it and its downstream tasks to run them again)"
            )
        _, summary, packed = staged
        deleted, inserted = _replace(conn, batch, unpack_scores(packed), BatchSummary(**summary), run_id)
        conn.execute(sql("load/stage_delete"), _bounds(window))
    return LoadResult(window, deleted, inserted, created, time.perf_counter() - started)


def _replace(
    conn: psycopg.Connection, batch: Batch, scores: Scores, summary: BatchSummary, run_id: str | None
) -> tuple[int, int]:
    window = batch.window
    bounds = _bounds(window)
    if summary.rows != len(batch):
        raise LoadError(
            f"window {window}: the summary counts {summary.rows} rows but the batch has {len(batch)}"
        )
    if window.start.second or window.start.microsecond or window.end.second or window.end.microsecond:
        raise LoadError(f"window {window}: a load replaces whole minutes; its bounds must be on a minute")
    with conn.cursor() as cur:
        lock_hours(cur, window)
    if not conn.execute(sql("load/population_known"), {"version": summary.population_version}).fetchone()[0]:
        raise LoadError(
            f"population {summary.population_version} is not in banking_population: run the banking_schema "
            "DAG with the same seed and population settings as banking_transactions"
        )
    with conn.cursor() as cur:
        state.collect_replaced(cur, window)
        cur.execute(sql("load/delete_window"), bounds)
        deleted = cur.rowcount
        # A writer thread sends each chunk while this one encodes the next one, then the rollups.
        with cur.copy(sql("load/copy_banking_data"), writer=QueuedLibpqWriter(cur)) as copy:
            for chunk in copy_format.encode_chunks(batch, scores, summary.rule_set_version):
                copy.write(chunk)
            rollups = rollup_rows(batch, scores)
        inserted = max(cur.rowcount, 0)
        if inserted != summary.rows:
            raise LoadError(f"window {window}: copied {inserted} rows but the batch has {summary.rows}")
        for statement in sql_statements("load/delete_rollups"):
            cur.execute(statement, bounds)
        for name, text in zip(("load/copy_minute_stats", "load/copy_minute_rule_hits"), rollups, strict=True):
            with cur.copy(sql(name)) as copy:
                copy.write(text)
        refresh_hour_and_day_rollups(cur, window)
        state.replace_range(cur, batch)
    conn.execute(
        sql("load/upsert_batch"),
        {
            **minute_audit(batch, scores),
            "rule_set_version": summary.rule_set_version,
            "settings_digest": summary.settings_digest,
            "population_version": summary.population_version,
            "settings": Jsonb(summary.settings),
            "run_id": run_id,
        },
    )
    return deleted, inserted


def minutes_of(window: Window) -> int:
    """How many minutes a minute-aligned window holds."""
    return (window.end - window.start) // timedelta(minutes=1)


def minute_audit(batch: Batch, scores: Scores) -> dict[str, list]:
    """The audit figures of every minute of the batch's window, quiet minutes included, as the
    columns of ``load/upsert_batch``."""
    first = micros(batch.window.start) // _US_PER_MINUTE
    n = minutes_of(batch.window)
    minute = batch.t_us // _US_PER_MINUTE - first

    def per_minute(mask: np.ndarray | None = None, weights: np.ndarray | None = None) -> list[int]:
        at = minute if mask is None else minute[mask]
        w = weights if mask is None or weights is None else weights[mask]
        return np.bincount(at, weights=w, minlength=n).astype(np.int64).tolist()

    decided = {d: per_minute(scores.decision == i) for i, d in enumerate(DECISIONS)}
    return {
        "minutes": [batch.window.start + timedelta(minutes=i) for i in range(n)],
        "rows": per_minute(),
        "approved": decided[APPROVED],
        "review": decided[REVIEW],
        "rejected": decided[REJECTED],
        "injected_fraud": per_minute(batch.scenario >= 0),
        "amount": [Decimal(c).scaleb(-2) for c in _cents_per_minute(minute, batch.amount_cents, n)],
    }


def _cents_per_minute(minute: np.ndarray, cents: np.ndarray, n: int) -> list[int]:
    """Exact integer sums per minute (float64 weights could round large totals)."""
    totals = np.zeros(n, dtype=np.int64)
    np.add.at(totals, minute, cents)
    return totals.tolist()


def _bounds(window: Window) -> dict:
    return {"start": window.start, "end": window.end}


def _text(value: str) -> str:
    """``value`` escaped for COPY text."""
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value
