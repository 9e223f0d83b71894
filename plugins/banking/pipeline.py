"""The three steps of a data window (generate, score, load) as plain functions.

The DAG runs them as three tasks; :func:`run_window` runs them in one process (tests, benchmark,
soak). A window's transactions are a pure function of (settings, window), so the score and load
tasks regenerate them from the generate task's small manifest instead of shipping rows through
XCom, and check the fingerprint to prove they work on exactly what was generated. The scores go
from the score task to the load task through ``banking_staging`` in PostgreSQL, which every
worker can reach; regenerating a window costs far less than shipping its rows.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
import psycopg

from banking import loader, rules, scoring, state
from banking.batch import COUNTRY_CODES, Batch
from banking.generator import generate_batch
from banking.history import load_history, read_history_columns
from banking.loader import BatchSummary, LoadResult
from banking.model import Transaction, Window
from banking.scoring import HistoryColumns, Scores, score_columns
from banking.settings import GeneratorSettings

log = logging.getLogger(__name__)


class FingerprintMismatch(RuntimeError):
    """The regenerated batch differs from the one the generate task saw (settings or code changed)."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the generate task hands on: enough to regenerate the batch and check it is the same."""

    window: Window
    settings: GeneratorSettings
    rows: int
    fingerprint: str
    scenarios: dict[str, int]

    def as_xcom(self) -> dict[str, Any]:
        return {
            "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(),
            "settings": self.settings.as_dict(),
            "rows": self.rows,
            "fingerprint": self.fingerprint,
            "scenarios": self.scenarios,
        }

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            window=Window(
                datetime.fromisoformat(data["window_start"]), datetime.fromisoformat(data["window_end"])
            ),
            settings=GeneratorSettings(**data["settings"]),
            rows=data["rows"],
            fingerprint=data["fingerprint"],
            scenarios=data["scenarios"],
        )


@dataclass(frozen=True, slots=True)
class WindowReport:
    """The outcome of one window run in process, with each stage's seconds."""

    summary: BatchSummary
    load: LoadResult
    seconds: dict[str, float]


def generate(settings: GeneratorSettings, window: Window) -> tuple[Batch, Manifest]:
    """Step 1: the window's transactions and their manifest."""
    batch = generate_batch(settings, window)
    manifest = Manifest(window, settings, len(batch), batch.fingerprint(), batch.scenario_counts())
    return batch, manifest


def regenerate(manifest: Manifest) -> Batch:
    """The batch a manifest describes, checked against its fingerprint."""
    batch = generate_batch(manifest.settings, manifest.window)
    if len(batch) != manifest.rows or batch.fingerprint() != manifest.fingerprint:
        raise FingerprintMismatch(
            f"window {manifest.window}: regenerated {len(batch)} rows that differ from the {manifest.rows} "
            "the generate task produced; clear the whole run so that all tasks use the same code and settings"
        )
    return batch


def score(conn: psycopg.Connection, batch: Batch, rule_set: rules.RuleSet) -> Scores:
    """Step 2: score the batch against the history loaded before its window."""
    return score_columns(batch.scoring_columns(), read_history(conn, batch, rule_set), rule_set)


def score_transactions(
    conn: psycopg.Connection, rows: list[Transaction], window: Window, rule_set: rules.RuleSet
) -> rules.ScoreSummary:
    """Score transaction objects in place against the history before ``window`` (backtests): through
    the running totals with the rule set's own look-backs when they can give it exactly, else raw."""
    since = Window(window.start - rule_set.lookback, window.start)
    the_plan = state.plan_for(conn, window, rule_set)
    if the_plan is not None:
        return scoring.score_transactions_with(
            rows, partial(state.read_keyed, conn, the_plan, since), rule_set
        )
    history = load_history(conn, (t.account_id for t in rows), since.start, since.end)
    return rules.score_batch(rows, history, rule_set)


def read_history(conn: psycopg.Connection, batch: Batch, rule_set: rules.RuleSet) -> HistoryColumns:
    """The history the rules see: through the running totals when they can give it exactly
    (``state.read_history``), else the raw rows (:func:`read_raw_history`); the same either way."""
    past = state.read_history(conn, batch, rule_set)
    return past if past is not None else read_raw_history(conn, batch, rule_set)


def read_raw_history(conn: psycopg.Connection, batch: Batch, rule_set: rules.RuleSet) -> HistoryColumns:
    """The earlier transactions of the batch's accounts that the rules can see, as columns keyed like
    the batch (population indices; ids or countries outside the population get keys of their own)."""
    tables = batch.tables
    since, until = batch.window.start - rule_set.lookback, batch.window.start
    accounts = [tables.population.accounts[i].account_id for i in np.unique(batch.account).tolist()]
    past = read_history_columns(conn, accounts, since, until, COUNTRY_CODES)
    return HistoryColumns(
        t_us=past.t_us,
        account=tables.account_ids.positions_of(past.account),
        card=tables.card_ids.positions_of(past.card),
        amount_cents=past.amount_cents,
        country=past.country,
        since=since,
        until=until,
    )


def summarize(batch: Batch, scores: Scores, settings: GeneratorSettings) -> BatchSummary:
    return BatchSummary.of(batch, scores, settings.digest, settings.population_version, settings.as_dict())


def score_and_stage(
    conn: psycopg.Connection, manifest: Manifest, rule_set: rules.RuleSet
) -> tuple[BatchSummary, int]:
    """The score task: regenerate, score, and stage the scores for the load task."""
    batch = regenerate(manifest)
    scores = score(conn, batch, rule_set)
    summary = summarize(batch, scores, manifest.settings)
    return summary, loader.stage(conn, manifest.window, scores, summary)


def load(conn: psycopg.Connection, manifest: Manifest, run_id: str | None = None) -> LoadResult:
    """The load task: regenerate the batch and load it with its staged scores."""
    return loader.load_staged(conn, regenerate(manifest), run_id)


def run_window(
    conn: psycopg.Connection,
    settings: GeneratorSettings,
    rule_set: rules.RuleSet,
    window: Window,
    run_id: str | None = None,
) -> WindowReport:
    """Generate, score and load one window in this process (no staging)."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    batch, _ = generate(settings, window)
    t1 = time.perf_counter()
    scores = score(conn, batch, rule_set)
    summary = summarize(batch, scores, settings)
    t2 = time.perf_counter()
    result = loader.replace_window(conn, batch, scores, summary, run_id)
    t3 = time.perf_counter()
    seconds.update(generate=t1 - t0, score=t2 - t1, load=t3 - t2)
    return WindowReport(summary, result, seconds)


@dataclass(frozen=True, slots=True)
class CatchUp:
    """The window a scheduled run loads: from the last loaded minute, bounded, to its interval's end."""

    window: Window
    missed_minutes: int  # minutes before the run's own interval that it loads
    skipped: Window | None  # missed time beyond the bound, left for a backfill
    behind: Window | None  # missed time beyond what one run may load, left for the next runs


def catch_up(
    conn: psycopg.Connection, interval: Window, bound: timedelta, max_duration: timedelta
) -> CatchUp:
    """What a scheduled run owning ``interval`` loads after downtime.

    Everything missed since the last loaded minute before the interval, but no further back than
    ``bound`` before the interval (older missed time is ``skipped``), and no more than
    ``max_duration`` in all (the rest is ``behind``: the next runs go on from where this one ends,
    oldest first, so the stream has no gap however long the downtime was, up to the bound).
    """
    last = loader.last_loaded_minute(conn, interval.start)
    if last is None or last >= interval.start:
        return CatchUp(interval, 0, None, None)
    start, skipped = last, None
    if interval.start - last > bound:
        start = interval.start - bound
        skipped = Window(last, start)
    end = min(interval.end, start + max(max_duration, interval.duration))
    behind = Window(end, interval.end) if end < interval.end else None
    missed = (min(end, interval.start) - start) // timedelta(minutes=1)
    return CatchUp(Window(start, end), missed, skipped, behind)


def warm_start(
    conn: psycopg.Connection,
    settings: GeneratorSettings,
    rule_set: rules.RuleSet,
    end: datetime,
    duration: timedelta,
    step: timedelta = timedelta(days=1),
) -> list[WindowReport]:
    """Load the ``duration`` of history before ``end`` that the rules look back over, in windows of
    ``step``, on a database that has nothing older; returns the reports of the windows loaded.

    Resumable: it goes on from the last minute it loaded. A database with data before
    ``end - duration`` is not new, and is left as it is.
    """
    begin = end - duration
    if duration <= timedelta(0) or loader.loaded_before(conn, begin):
        return []
    start = max(begin, loader.last_loaded_minute(conn, end) or begin)
    reports: list[WindowReport] = []
    rows, started = 0, time.perf_counter()
    while start < end:
        window = Window(start, min(end, start + step))
        report = run_window(conn, settings, rule_set, window)
        reports.append(report)
        rows += report.load.inserted
        log.info(
            "warm start: loaded %s, %d rows (%d so far, %.0f%% of the time, %.1fs)",
            window,
            report.load.inserted,
            rows,
            100 * (window.end - begin) / duration,
            time.perf_counter() - started,
        )
        start = window.end
    return reports
