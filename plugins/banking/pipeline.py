"""The three steps of a data window (generate, score, load) as plain functions.

The DAG runs them as three tasks; :func:`run_window` runs them in one process (tests, benchmark,
soak). A window's transactions are a pure function of (settings, window), so the score task
regenerates them from the generate task's small manifest instead of shipping rows through XCom,
and checks the fingerprint to prove it scores exactly what was generated. The scored rows go to
the load task through ``banking_staging`` in PostgreSQL, which every worker can reach.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from banking import loader, rules
from banking.generator import generate_window
from banking.history import load_history
from banking.loader import BatchSummary, LoadResult
from banking.model import Transaction, Window
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


def fingerprint(rows: list[Transaction]) -> str:
    digest = hashlib.sha256()
    for t in rows:
        digest.update(t.uniq_id.bytes)
        digest.update(t.amount_cents.to_bytes(8, "big"))
    return digest.hexdigest()[:32]


def generate(settings: GeneratorSettings, window: Window) -> tuple[list[Transaction], Manifest]:
    """Step 1: the window's transactions and their manifest."""
    rows = generate_window(settings, window)
    scenarios = Counter(t.fraud_scenario for t in rows if t.fraud_scenario)
    manifest = Manifest(window, settings, len(rows), fingerprint(rows), dict(sorted(scenarios.items())))
    return rows, manifest


def regenerate(manifest: Manifest) -> list[Transaction]:
    """The batch a manifest describes, checked against its fingerprint."""
    rows = generate_window(manifest.settings, manifest.window)
    if len(rows) != manifest.rows or fingerprint(rows) != manifest.fingerprint:
        raise FingerprintMismatch(
            f"window {manifest.window}: regenerated {len(rows)} rows that differ from the {manifest.rows} "
            "the generate task produced; clear the whole run so that all tasks use the same code and settings"
        )
    return rows


def score(
    conn: psycopg.Connection, rows: list[Transaction], window: Window, rule_set: rules.RuleSet
) -> rules.ScoreSummary:
    """Step 2: score the batch in place against the history loaded before the window."""
    history = load_history(conn, (t.account_id for t in rows), window.start - rule_set.lookback, window.start)
    return rules.score_batch(rows, history, rule_set)


def summarize(rows: list[Transaction], settings: GeneratorSettings, rule_set: rules.RuleSet) -> BatchSummary:
    return BatchSummary.of(rows, rule_set.version, settings.digest, settings.population_version)


def score_and_stage(
    conn: psycopg.Connection, manifest: Manifest, rule_set: rules.RuleSet
) -> tuple[BatchSummary, int]:
    """The score task: regenerate, score, and stage the scored rows for the load task."""
    rows = regenerate(manifest)
    score(conn, rows, manifest.window, rule_set)
    summary = summarize(rows, manifest.settings, rule_set)
    staged_bytes = loader.stage(conn, manifest.window, loader.encode_rows(rows), summary)
    return summary, staged_bytes


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
    rows, _ = generate(settings, window)
    t1 = time.perf_counter()
    score(conn, rows, window, rule_set)
    summary = summarize(rows, settings, rule_set)
    t2 = time.perf_counter()
    result = loader.replace_window(conn, window, loader.encode_chunks(rows), summary, run_id)
    t3 = time.perf_counter()
    seconds.update(generate=t1 - t0, score=t2 - t1, load=t3 - t2)
    return WindowReport(summary, result, seconds)
