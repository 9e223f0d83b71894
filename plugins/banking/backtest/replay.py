"""Rule backtests: what a candidate rule set would have decided over transactions already loaded.

A backtest replays every loaded window (a ``banking_batches`` row) that lies inside the range
``[start, end)``, in window order, exactly as the live score task scored it: the window's stored
rows are read from ``banking_data`` as the engine's columns (``stored.score_stored_window``), the
accounts' history before the window is read with the candidate's look-back (``rules.history.read_history``,
as the live score task reads it), and ``rules.engine.score_columns`` decides, the same engine the live
pipeline calls. Windows that overlap the range only partly are skipped, because a part of a window
does not score like the whole one. The history is what ``banking_data`` holds now, which is what the live
scoring saw as long as the windows were loaded in window order (the stream, or an ordered backfill).

Output, keyed by the backtest id (``include/sql/migrations/0007_backtests.sql``):
``banking_backtest_runs`` (one row per id), ``banking_backtest_results`` (the candidate's verdict on
every replayed transaction) and ``banking_backtest_metrics`` (per rule and overall, for the live
decisions and the candidate's: hits, rejections, rejected amount, precision and recall against
the injected ground truth ``fraud_scenario``). ``banking_data`` is only read.

Bad input (params, rules, an empty, reversed or data-less range) raises ``BacktestInputError``
before anything is written. A rerun with the same id first removes that id's earlier output, in
one transaction with marking it running; each chunk's results are then written in a transaction
of their own and the metrics with the final status in the last one, so a rerun leaves the same rows.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from banking.backtest import stored
from banking.backtest.report import BacktestReport, log_report
from banking.backtest.scoreboard import Scoreboard
from banking.backtest.spec import BacktestInputError, BacktestSpec, parse_spec
from banking.db import sql, sql_statements
from banking.model import RuleHit, Window
from banking.rules.engine import Scores

log = logging.getLogger(__name__)


class BacktestBusy(RuntimeError):
    """Another session is running a backtest with the same id; a retry may succeed."""


@dataclass(frozen=True)
class Plan:
    """The loaded windows inside the range, in replay order."""

    windows: list[Window]
    rows: int  # as banking_batches counts them
    skipped_windows: int  # loaded windows that overlap the range only partly


def plan(conn: psycopg.Connection, spec: BacktestSpec) -> Plan:
    """The windows to replay; refuses a range without loaded transactions. Reads only."""
    bounds = {"start": spec.range.start, "end": spec.range.end}
    found = conn.execute(sql("backtest/windows"), bounds).fetchall()
    skipped = conn.execute(sql("backtest/partial_windows"), bounds).fetchone()[0]
    if not found:
        hint = (
            f"{skipped} loaded window(s) overlap it only partly; widen the range to cover them whole"
            if skipped
            else "load the windows first (a backfill of banking_transactions, see docs/backtests.md)"
        )
        raise BacktestInputError(f"no data in {spec.range}: no loaded window lies inside it; {hint}")
    rows = sum(n for _, _, n in found)
    if rows == 0:
        raise BacktestInputError(
            f"no data in {spec.range}: its {len(found)} loaded window(s) hold no transactions"
        )
    return Plan([Window(s, e) for s, e, _ in found], rows, skipped)


def run_backtest(conn: psycopg.Connection, spec: BacktestSpec, run_id: str | None = None) -> BacktestReport:
    """Replay the range with the candidate rules and store results and metrics (autocommit ``conn``)."""
    started = time.perf_counter()
    the_plan = plan(conn, spec)
    key = {"backtest_id": spec.backtest_id}
    if not conn.execute(sql("backtest/try_lock"), key).fetchone()[0]:
        raise BacktestBusy(f"backtest {spec.backtest_id!r} is being run by another session; try again later")
    try:
        log.info(
            "backtest %s: candidate rule set %s (%s) over %s: %d windows, %d rows, chunks of %d min%s",
            spec.backtest_id,
            spec.rule_set.version,
            spec.rule_set.source,
            spec.range,
            len(the_plan.windows),
            the_plan.rows,
            spec.chunk_minutes,
            f"; {the_plan.skipped_windows} window(s) overlap the range only partly and are skipped"
            if the_plan.skipped_windows
            else "",
        )
        with conn.transaction():
            for statement in sql_statements("backtest/start_run"):
                conn.execute(
                    statement,
                    {
                        **key,
                        "start": spec.range.start,
                        "end": spec.range.end,
                        "chunk_minutes": spec.chunk_minutes,
                        "candidate_version": spec.rule_set.version,
                        "candidate_source": spec.rule_set.source,
                        "candidate_rules": spec.rules_text,
                        "run_id": run_id,
                    },
                )
        try:
            board = Scoreboard([r.id for r in spec.rule_set.enabled_rules])
            live_versions = _replay(conn, spec, the_plan, board)
            metrics = board.metrics()
            with conn.transaction():
                for m in metrics:
                    conn.execute(sql("backtest/insert_metric"), {**key, **asdict(m)})
                conn.execute(
                    sql("backtest/finish_run"),
                    {
                        **key,
                        "live_versions": live_versions,
                        "windows": len(the_plan.windows),
                        "skipped_windows": the_plan.skipped_windows,
                        "rows": board.transactions,
                        "changed": board.changed,
                    },
                )
        except BaseException as exc:
            _mark_failed(conn, spec.backtest_id, exc)
            raise
    finally:
        _unlock(conn, key)
    return BacktestReport(
        backtest_id=spec.backtest_id,
        range=spec.range,
        candidate_version=spec.rule_set.version,
        live_versions=live_versions,
        windows=len(the_plan.windows),
        skipped_windows=the_plan.skipped_windows,
        rows=board.transactions,
        changed=board.changed,
        seconds=time.perf_counter() - started,
        metrics=metrics,
    )


def _replay(conn: psycopg.Connection, spec: BacktestSpec, the_plan: Plan, board: Scoreboard) -> list[str]:
    """Score the planned windows chunk by chunk, storing each chunk's results; returns the live versions."""
    by_chunk: dict[int, list[Window]] = {}
    for w in the_plan.windows:
        by_chunk.setdefault((w.start - spec.range.start) // spec.chunk, []).append(w)
    chunks = math.ceil((spec.range.end - spec.range.start) / spec.chunk)
    live_versions: set[str] = set()
    for index, windows in sorted(by_chunk.items()):
        t0 = time.perf_counter()
        chunk_start = spec.range.start + index * spec.chunk
        chunk = Window(chunk_start, min(chunk_start + spec.chunk, spec.range.end))
        by_window = _read_chunk(conn, chunk, windows, spec.range.end)
        results: list[tuple] = []
        for w in windows:
            records = by_window.get((w.start, w.end))
            if not records:
                continue
            scores = stored.score_stored_window(conn, w, records, spec.rule_set)
            for i, r in enumerate(records):
                live_versions.add(r["rule_set_version"])
                hits = scores.hits(i)
                board.add(
                    (r["decision"], [h["rule"] for h in r["rule_hits"]]),
                    (scores.decision_name(i), [h.rule_id for h in hits]),
                    r["amount_cents"],
                    r["fraud_scenario"] is not None,
                )
                results.append(_result_row(spec.backtest_id, r, scores, i, hits))
        with conn.transaction(), conn.cursor() as cur, cur.copy(sql("backtest/copy_results")) as copy:
            for row in results:
                copy.write_row(row)
        log.info(
            "backtest %s: chunk %d/%d %s: %d windows, %d rows in %.2fs; %d of %d rows done (%.0f%%)",
            spec.backtest_id,
            index + 1,
            chunks,
            chunk,
            len(windows),
            len(results),
            time.perf_counter() - t0,
            board.transactions,
            the_plan.rows,
            100.0 * board.transactions / the_plan.rows,
        )
    return sorted(live_versions)


def _read_chunk(
    conn: psycopg.Connection, chunk: Window, windows: list[Window], range_end: datetime
) -> dict[tuple[datetime, datetime], list[dict[str, Any]]]:
    """The stored rows of the chunk's windows, grouped by window, each in (timestamp, uniq_id) order."""
    params = {
        "chunk_start": chunk.start,
        "chunk_end": chunk.end,
        "range_end": range_end,
        "rows_end": max(w.end for w in windows),
    }
    grouped: dict[tuple[datetime, datetime], list[dict[str, Any]]] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for r in cur.execute(sql("backtest/chunk_rows"), params):
            grouped.setdefault((r["window_start"], r["window_end"]), []).append(r)
    return grouped


def _result_row(backtest_id: str, r: dict[str, Any], scores: Scores, i: int, hits: list[RuleHit]) -> tuple:
    """A row of backtest/copy_results.sql: the stored row with the candidate's verdict (row i of scores)."""
    hit_json = [{"rule": h.rule_id, "score": h.score, "explanation": h.explanation} for h in hits]
    return (
        backtest_id,
        r["timestamp"],
        r["uniq_id"],
        r["window_start"],
        r["window_end"],
        Decimal(r["amount_cents"]).scaleb(-2),
        r["fraud_scenario"],
        r["decision"],
        r["risk_score"],
        scores.decision_name(i),
        int(scores.risk_score[i]),
        scores.rules_triggered(i),
        scores.rules_explanation(i),
        json.dumps(hit_json, ensure_ascii=False, separators=(",", ":")),
    )


def _mark_failed(conn: psycopg.Connection, backtest_id: str, exc: BaseException) -> None:
    try:
        with conn.transaction():
            conn.execute(
                sql("backtest/fail_run"),
                {"backtest_id": backtest_id, "error": f"{type(exc).__name__}: {exc}"[:2000]},
            )
    except psycopg.Error as error:  # the connection may be what failed
        log.warning("backtest %s: could not record the failure: %s", backtest_id, error)


def _unlock(conn: psycopg.Connection, key: dict[str, str]) -> None:
    try:
        conn.execute(sql("backtest/unlock"), key)
    except psycopg.Error:
        pass  # closing the connection releases the lock


def run_logged(conn: psycopg.Connection, spec: BacktestSpec, run_id: str | None = None) -> BacktestReport:
    """Run the backtest on ``conn`` (autocommit) and log its metrics."""
    return log_report(run_backtest(conn, spec, run_id))


def run_on(conn: psycopg.Connection, params: Mapping[str, Any], run_id: str | None = None) -> BacktestReport:
    """Validate ``params``, run the backtest on ``conn`` and log its metrics."""
    return run_logged(conn, parse_spec(params), run_id)
