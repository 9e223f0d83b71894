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
from typing import Any

import numpy as np
import psycopg

from banking.model import Window
from banking.rules import history_totals
from banking.rules.columns import Columns, HistoryColumns
from banking.rules.engine import Scores, score_columns
from banking.rules.rule_set import RuleSet
from banking.store import account_tiles, audit, loader
from banking.store.audit import WindowSummary
from banking.store.loader import LoadResult
from banking.stream.batch import COUNTRY_CODES, Batch
from banking.stream.generator import generate_batch
from banking.stream.settings import GeneratorSettings

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

    summary: WindowSummary
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


def score(conn: psycopg.Connection, batch: Batch, rule_set: RuleSet) -> Scores:
    """Step 2: score the batch against the history loaded before its window."""
    return score_columns(columns_of(batch), read_history(conn, batch, rule_set), rule_set)


def columns_of(batch: Batch) -> Columns:
    """What the rules read of a batch, in the engine's layout (accounts and cards keyed by population index)."""
    return Columns(
        t_us=batch.t_us,
        account=batch.account.astype(np.int64),
        card=batch.card.astype(np.int64),
        amount_cents=batch.amount_cents,
        country=batch.country.astype(np.int32),
        home_country=batch.home_country.astype(np.int32),
        trans_type=batch.trans_type,
        card_present=batch.present,
        category=batch.category,
        blacklisted=batch.blacklisted,
        countries=COUNTRY_CODES,
    )


def read_history(conn: psycopg.Connection, batch: Batch, rule_set: RuleSet) -> HistoryColumns:
    """The earlier transactions of the batch's accounts that the rules can see, as columns keyed like
    the batch (population indices; ids or countries outside the population get keys of their own):
    through the hour tiles when they give them exactly, else the raw rows."""
    tables = batch.tables
    accounts = tables.population.account_id[np.unique(batch.account)]
    return history_totals.read_window_history(
        conn, accounts, tables.account_ids, tables.card_ids, batch.window, rule_set, COUNTRY_CODES
    )


def summarize(batch: Batch, scores: Scores, settings: GeneratorSettings) -> WindowSummary:
    return WindowSummary.of(batch, scores, settings.digest, settings.population_version, settings.as_dict())


def score_and_stage(
    conn: psycopg.Connection, manifest: Manifest, rule_set: RuleSet
) -> tuple[WindowSummary, int]:
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
    rule_set: RuleSet,
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
    last = audit.last_loaded_minute(conn, interval.start)
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
    rule_set: RuleSet,
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
    if duration <= timedelta(0) or audit.loaded_before(conn, begin):
        return []
    start = max(begin, audit.last_loaded_minute(conn, end) or begin)
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
    if reports:
        maintain_state(conn, rule_set, end)
        loader.analyze_after_bulk_load(conn)
    return reports


def maintain_state(conn: psycopg.Connection, rule_set: RuleSet, reference: datetime) -> list[datetime]:
    """Seal the days that ended by ``reference`` (their day tiles, once) and make the tiles' block the
    one that ``rule_set``'s window after the latest load reads whole (``reference`` when nothing was
    loaded), without the rows its moves left at zero; returns the days sealed."""
    days = account_tiles.seal_days(conn, reference)
    geometry = history_totals.Spans.of(rule_set).block_geometry()
    if geometry is not None:
        account_tiles.ensure_block(conn, *geometry, reference)
        account_tiles.prune_block(conn)
    return days
