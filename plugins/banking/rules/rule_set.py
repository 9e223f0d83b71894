"""A validated rule set: the rules in file order, their typed parameters and the decision thresholds.

Amounts in a rule file are USD units; rows carry integer cents (:func:`to_cents`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from banking.model import APPROVED, REJECTED, REVIEW

NO_HITS_EXPLANATION = "No rules triggered: within all limits"
MAX_RISK_SCORE = 100
MAX_ENABLED_RULES = 63  # the engine keeps the hits of a row as bits of an int64


def to_cents(usd: float) -> int:
    """USD units (as in a rule file) to integer cents."""
    return round(usd * 100)


@dataclass(frozen=True)
class NoParams:
    """Parameters of a rule type that takes none (``blacklisted_account``)."""


@dataclass(frozen=True)
class HighValueParams:
    min_amount: float  # USD; fires when amount >= min_amount

    @property
    def min_cents(self) -> int:
        return to_cents(self.min_amount)


@dataclass(frozen=True)
class VelocityParams:
    key: str  # "card" or "account"
    window_minutes: int
    max_count: int | None = None  # fires when more than max_count transactions in the window
    max_amount: float | None = None  # USD; fires when the window's total exceeds it


@dataclass(frozen=True)
class AmountSpikeParams:
    multiplier: float
    lookback_days: int
    min_history: int
    min_amount: float = 0


@dataclass(frozen=True)
class NewCountryParams:
    lookback_days: int
    min_history: int = 1


@dataclass(frozen=True)
class CnpCategoryParams:
    categories: tuple[str, ...]


@dataclass(frozen=True)
class OddHoursParams:
    start_hour: int  # local hours in [start_hour, end_hour), wrapping midnight when start > end
    end_hour: int
    min_amount: float = 0


RuleParams = (
    NoParams
    | HighValueParams
    | VelocityParams
    | AmountSpikeParams
    | NewCountryParams
    | CnpCategoryParams
    | OddHoursParams
)


@dataclass(frozen=True)
class Rule:
    """One validated rule of a rule set."""

    id: str
    type: str
    description: str
    score: int
    enabled: bool
    trans_types: tuple[str, ...] | None
    params: RuleParams

    @property
    def lookback(self) -> timedelta:
        """How far back before a transaction this rule looks."""
        p = self.params
        if isinstance(p, VelocityParams):
            return timedelta(minutes=p.window_minutes)
        if isinstance(p, AmountSpikeParams | NewCountryParams):
            return timedelta(days=p.lookback_days)
        return timedelta(0)


@dataclass(frozen=True)
class RuleSet:
    """A validated rule file: rules in file order plus the decision thresholds."""

    version: str
    rules: tuple[Rule, ...]
    reject_score: int
    review_score: int | None
    source: str

    @property
    def enabled_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    @property
    def lookback(self) -> timedelta:
        """How much history before a window the enabled rules need (the max over rules)."""
        return max((r.lookback for r in self.enabled_rules), default=timedelta(0))

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    def decide(self, risk_score: int) -> str:
        """The decision for a risk score: Rejected, Review or Approved (never None)."""
        if risk_score >= self.reject_score:
            return REJECTED
        if self.review_score is not None and risk_score >= self.review_score:
            return REVIEW
        return APPROVED
