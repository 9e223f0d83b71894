"""The fraud rules evaluated with NumPy over columns: one pass per rule over the whole batch.

``score_columns`` takes the batch (``Columns``, already in processing order) and the history
loaded before it (``HistoryColumns``) as arrays and returns ``Scores``: risk score, decision and
a bit mask of the rules that fired per row, plus the explanation texts of the rows with hits.

The results are exactly those of scoring the rows one by one in (timestamp, uniq_id) order: a
rule sees the account's (or card's) history plus the batch's earlier rows, never a later one; a
history row with timestamp <= t is seen before a batch row at t. The parts: ``prepared`` checks the
columns and derives what the rules share, ``windows`` counts sliding windows without a per-row loop,
``local_time`` gives wall-clock hours, ``evaluators`` holds one function per rule type.

Explanations are the only per-row Python work, and only for the rows where a rule fired.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from banking.model import (
    APPROVED,
    DECISIONS,
    NO_RULES_TRIGGERED,
    REJECTED,
    REVIEW,
    RuleHit,
)
from banking.rules.columns import Columns, HistoryColumns
from banking.rules.evaluators import EVALUATORS
from banking.rules.prepared import PreparedRows
from banking.rules.rule_set import MAX_ENABLED_RULES, MAX_RISK_SCORE, NO_HITS_EXPLANATION, RuleSet

_I64 = np.int64


@dataclass
class ScoreSummary:
    """Counts over one scored batch."""

    rows: int
    decisions: dict[str, int]
    hits_by_rule: dict[str, int]
    rule_set_version: str = ""
    total_risk_score: int = 0

    @property
    def flagged(self) -> int:
        """Rows not approved (Review or Rejected)."""
        return self.rows - self.decisions.get(APPROVED, 0)

    @property
    def mean_risk_score(self) -> float:
        return self.total_risk_score / self.rows if self.rows else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flagged": self.flagged, "mean_risk_score": round(self.mean_risk_score, 3)}


@dataclass(frozen=True, slots=True)
class Scores:
    """The scores of a batch, row-aligned with its Columns."""

    rule_ids: tuple[str, ...]  # enabled rules in rule-file order = bit order of hit_mask
    rule_scores: tuple[int, ...]
    risk_score: np.ndarray  # int64, min(100, sum of hit scores)
    decision: np.ndarray  # int8 index into model.DECISIONS (Approved, Review, Rejected)
    hit_mask: np.ndarray  # int64, bit k set when rule_ids[k] fired on the row
    explanations: dict[int, tuple[str, ...]]  # row -> explanation of each hit, in bit order (rows with hits)
    summary: ScoreSummary  # the batch counts

    def __len__(self) -> int:
        return len(self.risk_score)

    def hit_rules(self, i: int) -> list[int]:
        """Indices into rule_ids of the rules that fired on row i, in rule order."""
        mask = int(self.hit_mask[i])
        return [k for k in range(len(self.rule_ids)) if mask >> k & 1] if mask else []

    def hits(self, i: int) -> list[RuleHit]:
        """The rule hits of row i, in rule order (a new list)."""
        texts = self.explanations.get(i)
        if not texts:
            return []
        ids, scores = self.rule_ids, self.rule_scores
        return [RuleHit(ids[k], scores[k], t) for k, t in zip(self.hit_rules(i), texts, strict=True)]

    def decision_name(self, i: int) -> str:
        return DECISIONS[self.decision[i]]

    def rules_triggered(self, i: int) -> str:
        """The comma-separated ids of the rules that fired, or "No Rules Triggered"."""
        if i not in self.explanations:
            return NO_RULES_TRIGGERED
        return ", ".join([self.rule_ids[k] for k in self.hit_rules(i)])

    def rules_explanation(self, i: int) -> str:
        """The explanations of the hits joined by "; ", or the no-hits text."""
        texts = self.explanations.get(i)
        return "; ".join(texts) if texts else NO_HITS_EXPLANATION


def score_columns(rows: Columns, history: HistoryColumns, rule_set: RuleSet) -> Scores:
    """Evaluate the enabled rules of ``rule_set`` on every row; see the module docstring."""
    enabled = rule_set.enabled_rules
    if len(enabled) > MAX_ENABLED_RULES:
        raise ValueError(f"at most {MAX_ENABLED_RULES} enabled rules can be scored, got {len(enabled)}")
    batch = PreparedRows(rows, history, rule_set.lookback)
    n = len(batch)
    hit_mask = np.zeros(n, _I64)
    total = np.zeros(n, _I64)
    hit_rows: list[np.ndarray] = []
    hit_texts: list[list[str]] = []
    hits_by_rule: dict[str, int] = {}
    for bit, rule in enumerate(enabled):
        fired, explain = EVALUATORS[rule.type](rule, batch)
        if rule.trans_types is not None:
            fired &= batch.of_trans_types(rule.trans_types)
        where = np.flatnonzero(fired)
        hit_mask[where] |= 1 << bit
        total[where] += rule.score
        hit_rows.append(where)
        hit_texts.append(explain(where) if len(where) else [])
        hits_by_rule[rule.id] = len(where)
    risk = np.minimum(total, MAX_RISK_SCORE)
    decision = np.zeros(n, np.int8)
    if rule_set.review_score is not None:
        decision[risk >= rule_set.review_score] = DECISIONS.index(REVIEW)
    decision[risk >= rule_set.reject_score] = DECISIONS.index(REJECTED)
    explanations: dict[int, list[str]] = {i: [] for i in np.flatnonzero(hit_mask).tolist()}
    for where, texts in zip(hit_rows, hit_texts, strict=True):
        for i, text in zip(where.tolist(), texts, strict=True):
            explanations[i].append(text)
    counts = np.bincount(decision, minlength=len(DECISIONS)).tolist()
    summary = ScoreSummary(
        rows=n,
        decisions=dict(zip(DECISIONS, counts, strict=True)),
        hits_by_rule=hits_by_rule,
        rule_set_version=rule_set.version,
        total_risk_score=int(risk.sum()),
    )
    return Scores(
        rule_ids=tuple(r.id for r in enabled),
        rule_scores=tuple(r.score for r in enabled),
        risk_score=risk,
        decision=decision,
        hit_mask=hit_mask,
        explanations={i: tuple(texts) for i, texts in explanations.items()},
        summary=summary,
    )
