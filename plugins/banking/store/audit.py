"""The audit trail: a scored window's figures for the logs, one ``banking_batches`` row per loaded
minute, and what the audit says about where loading stopped."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import psycopg

from banking.db import sql
from banking.model import APPROVED, DECISIONS, REJECTED, REVIEW, US_PER_MINUTE, LoadError, Window, micros
from banking.rules.engine import Scores
from banking.stream.batch import Batch


@dataclass(slots=True)
class WindowSummary:
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
    ) -> WindowSummary:
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


def minutes_of(window: Window) -> int:
    """How many minutes a minute-aligned window holds."""
    return (window.end - window.start) // timedelta(minutes=1)


def minute_rows(batch: Batch, scores: Scores) -> dict[str, list]:
    """The audit figures of every minute of the batch's window, quiet minutes included, as the
    columns of ``load/upsert_batch``."""
    n = minutes_of(batch.window)
    minute = batch.t_us // US_PER_MINUTE - micros(batch.window.start) // US_PER_MINUTE

    def count(mask: np.ndarray | None = None) -> list[int]:
        return np.bincount(minute if mask is None else minute[mask], minlength=n).tolist()

    cents = np.zeros(n, dtype=np.int64)
    np.add.at(cents, minute, batch.amount_cents)  # exact integer sums
    decided = {d: count(scores.decision == i) for i, d in enumerate(DECISIONS)}
    return {
        "minutes": [batch.window.start + timedelta(minutes=i) for i in range(n)],
        "rows": count(),
        "approved": decided[APPROVED],
        "review": decided[REVIEW],
        "rejected": decided[REJECTED],
        "injected_fraud": count(batch.scenario >= 0),
        "amount": [Decimal(c).scaleb(-2) for c in cents.tolist()],
    }


def last_loaded_minute(conn: psycopg.Connection, before: datetime) -> datetime | None:
    """The end of the latest minute loaded before ``before``, or None when nothing was."""
    return conn.execute(sql("load/last_loaded_minute"), {"before": before}).fetchone()[0]


def loaded_before(conn: psycopg.Connection, before: datetime) -> bool:
    """Whether any minute before ``before`` was loaded."""
    return conn.execute(sql("load/loaded_before"), {"before": before}).fetchone()[0]
