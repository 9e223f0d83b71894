"""A loaded window's audit figures: the row of ``banking_batches`` and the counts for the logs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from banking.model import APPROVED, REJECTED, REVIEW, LoadError
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

    @classmethod
    def of(cls, batch: Batch, scores: Scores, settings_digest: str, population_version: str) -> WindowSummary:
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
        )

    def as_dict(self) -> dict:
        return asdict(self)
