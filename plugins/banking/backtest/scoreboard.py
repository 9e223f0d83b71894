"""Backtest metrics: live and candidate decisions counted per rule and overall, with precision and
recall against the injected ground truth (``fraud_scenario``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from banking.model import REJECTED, REVIEW

LIVE, CANDIDATE = "live", "candidate"
VARIANTS = (LIVE, CANDIDATE)
OVERALL = "*"  # the rule_id of the overall metrics


@dataclass(frozen=True)
class Metric:
    """One row of banking_backtest_metrics (without the backtest id)."""

    variant: str
    rule_id: str
    transactions: int
    hits: int
    review: int
    rejected: int
    rejected_amount: Decimal
    flagged: int  # rule hits for a rule, rejections overall
    true_positives: int  # flagged and injected fraud
    fraud_total: int
    precision: float | None
    recall: float | None


@dataclass
class _Tally:
    hits: int = 0
    review: int = 0
    rejected: int = 0
    rejected_cents: int = 0
    hit_fraud: int = 0  # hits that were fraud
    rejected_fraud: int = 0  # rejections that were fraud


@dataclass
class Scoreboard:
    """Counts per variant, overall and per rule, over the replayed transactions."""

    rule_ids: list[str]  # the candidate's enabled rules, in file order; others are added as seen
    transactions: int = 0
    fraud_total: int = 0
    changed: int = 0  # transactions whose candidate decision differs from the live one
    overall: dict[str, _Tally] = field(default_factory=lambda: {v: _Tally() for v in VARIANTS})
    by_rule: dict[str, dict[str, _Tally]] = field(default_factory=lambda: {v: {} for v in VARIANTS})

    def add(
        self, live: tuple[str, list[str]], candidate: tuple[str, list[str]], cents: int, fraud: bool
    ) -> None:
        """One transaction: its (decision, hit rule ids) live and with the candidate."""
        self.transactions += 1
        self.fraud_total += fraud
        self.changed += live[0] != candidate[0]
        for variant, (decision, hit_ids) in zip(VARIANTS, (live, candidate), strict=True):
            tallies = [self._rule(variant, r) for r in hit_ids]
            overall = self.overall[variant]
            overall.hits += bool(hit_ids)
            overall.rejected_fraud += fraud and decision == REJECTED
            for t in (overall, *tallies):
                t.review += decision == REVIEW
                if decision == REJECTED:
                    t.rejected += 1
                    t.rejected_cents += cents
            for t in tallies:
                t.hits += 1
                t.hit_fraud += fraud

    def _rule(self, variant: str, rule_id: str) -> _Tally:
        tally = self.by_rule[variant].get(rule_id)
        if tally is None:
            tally = self.by_rule[variant][rule_id] = _Tally()
            if rule_id not in self.rule_ids:
                self.rule_ids.append(rule_id)
        return tally

    def metrics(self) -> list[Metric]:
        """Overall first, then every rule either variant knows, for both variants."""
        out = []
        for variant in VARIANTS:
            o = self.overall[variant]
            out.append(self._metric(variant, OVERALL, o, flagged=o.rejected, true_positives=o.rejected_fraud))
            for rule_id in self.rule_ids:
                t = self.by_rule[variant].get(rule_id) or _Tally()
                out.append(self._metric(variant, rule_id, t, flagged=t.hits, true_positives=t.hit_fraud))
        return out

    def _metric(self, variant: str, rule_id: str, t: _Tally, flagged: int, true_positives: int) -> Metric:
        return Metric(
            variant=variant,
            rule_id=rule_id,
            transactions=self.transactions,
            hits=t.hits,
            review=t.review,
            rejected=t.rejected,
            rejected_amount=Decimal(t.rejected_cents).scaleb(-2),
            flagged=flagged,
            true_positives=true_positives,
            fraud_total=self.fraud_total,
            precision=true_positives / flagged if flagged else None,
            recall=true_positives / self.fraud_total if self.fraud_total else None,
        )
