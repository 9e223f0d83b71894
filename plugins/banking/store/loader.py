"""Load one scored window into ``banking_data``: one COPY inside one transaction that replaces its time.

Loads replace time, not windows. Inside the transaction: lock the hours the window touches (loads
of overlapping time take turns), check the population is seeded, delete every row of the window's
time range whichever run loaded it, COPY the rows, replace the per-minute rollups of its minutes,
change the hourly and daily rollups of its hours and days by as much, replace its share of the
history rules' tiles (``account_tiles``: the replaced rows are counted before the delete, the tiles
written last), write one audit row per minute, drop the staged scores. Either all of it commits or
none of it does, so loading the same time again, cut into any windows, leaves exactly the same rows,
rollups and audit minutes. Once it committed, the load moves the tiles'
block forward, in a transaction of its own (``account_tiles.advance_block``).

Rows are encoded in binary COPY format straight from the batch's columns
(:func:`copy_format.encode_chunks`), chunk by chunk while the server ingests the previous chunk.
Tasks on different workers hand the scores over through ``banking_staging`` (:func:`stage` then
:func:`load_staged`): the load task regenerates the batch itself, so only the scores travel, a few
bytes per row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psycopg
from psycopg.copy import QueuedLibpqWriter
from psycopg.types.json import Jsonb

from banking.db import sql, sql_statements
from banking.model import LoadError, Window
from banking.rules.engine import Scores
from banking.store import account_tiles, copy_format
from banking.store.audit import WindowSummary, minute_rows, minutes_of
from banking.store.partitions import ensure_partitions
from banking.store.rollups import apply_rollup_changes, lock_hours, rollup_rows
from banking.store.staging import pack_scores, unpack_scores
from banking.stream.batch import Batch

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadResult:
    window: Window
    deleted: int  # rows that earlier loads had left in the window's time range
    inserted: int
    partitions_created: int
    seconds: float


def replace_window(
    conn: psycopg.Connection, batch: Batch, scores: Scores, summary: WindowSummary, run_id: str | None = None
) -> LoadResult:
    """Replace the rows of the batch's window with the scored batch and write its audit row, atomically."""
    started = time.perf_counter()
    created = ensure_partitions(conn, batch.window)
    with conn.transaction():
        deleted, inserted = _replace(conn, batch, scores, summary, run_id)
    account_tiles.advance_block(conn, batch.window.end)
    return LoadResult(batch.window, deleted, inserted, created, time.perf_counter() - started)


def stage(conn: psycopg.Connection, window: Window, scores: Scores, summary: WindowSummary) -> int:
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
        deleted, inserted = _replace(conn, batch, unpack_scores(packed), WindowSummary(**summary), run_id)
        conn.execute(sql("load/stage_delete"), _bounds(window))
    account_tiles.advance_block(conn, window.end)
    return LoadResult(window, deleted, inserted, created, time.perf_counter() - started)


def _replace(
    conn: psycopg.Connection, batch: Batch, scores: Scores, summary: WindowSummary, run_id: str | None
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
        replaced = account_tiles.collect_replaced(cur, window)
        replaced_rollups = _named_row(cur.execute(sql("load/delete_window"), bounds))
        deleted = replaced_rollups.pop("deleted")
        # A writer thread sends each chunk while this one encodes the next one, then the rollups.
        with cur.copy(sql("load/copy_banking_data"), writer=QueuedLibpqWriter(cur)) as copy:
            for chunk in copy_format.encode_chunks(batch, scores, summary.rule_set_version):
                copy.write(chunk)
            rollups = rollup_rows(batch, scores)
        inserted = max(cur.rowcount, 0)
        if inserted != summary.rows:
            raise LoadError(f"window {window}: copied {inserted} rows but the batch has {summary.rows}")
        for statement in sql_statements("load/delete_rollups"):
            replaced_rollups |= _named_row(cur.execute(statement, bounds))
        for name, text in zip(("load/copy_minute_stats", "load/copy_minute_rule_hits"), rollups, strict=True):
            with cur.copy(sql(name)) as copy:
                copy.write(text)
        apply_rollup_changes(cur, window, replaced_rollups)
        account_tiles.replace_range(cur, batch, replaced)
    conn.execute(
        sql("load/upsert_batch"),
        {
            **minute_rows(batch, scores),
            "rule_set_version": summary.rule_set_version,
            "settings_digest": summary.settings_digest,
            "population_version": summary.population_version,
            "settings": Jsonb(summary.settings),
            "run_id": run_id,
        },
    )
    return deleted, inserted


def _named_row(cur: psycopg.Cursor) -> dict:
    """The one row that ``cur``'s statement returned, by column name."""
    return dict(zip((column.name for column in cur.description), cur.fetchone(), strict=True))


def _bounds(window: Window) -> dict:
    return {"start": window.start, "end": window.end}


def analyze_after_bulk_load(conn: psycopg.Connection) -> None:
    """Fresh planner statistics and visibility maps for the tables a window reads
    (``load/analyze_history``; VACUUM: ``conn`` must be in autocommit mode)."""
    for statement in sql_statements("load/analyze_history"):
        conn.execute(statement)
