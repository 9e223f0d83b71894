"""The records that flow through the pipeline: a data window, a transaction, a rule hit.

Amounts are integer cents so that sums and thresholds are exact; they become
``numeric(12,2)`` in PostgreSQL. Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

# Values the original project's dashboard queries rely on (see README "Data model").
TRANS_TYPES = ("Real_time_transaction", "settlements", "dispute")
REAL_TIME = "Real_time_transaction"
CARD_PRESENT = "Present"
CARD_NOT_PRESENT = "Not Present"
CARD_TYPES = ("visa", "mastercard")
MERCHANT_CATEGORIES = (
    "Retail",
    "Electronics",
    "Clothing",
    "Groceries",
    "Pharmacy",
    "Entertainment",
    "Dining",
    "Travel",
    "Utilities",
    "Healthcare",
)
CHANNELS = ("pos", "ecommerce", "mobile", "atm", "transfer")
APPROVED = "Approved"
REVIEW = "Review"
REJECTED = "Rejected"
DECISIONS = (APPROVED, REVIEW, REJECTED)
NO_RULES_TRIGGERED = "No Rules Triggered"

# Ground-truth labels of injected fraud scenarios; None means a legitimate transaction.
SCENARIOS = ("card_testing", "account_takeover", "blacklisted_account", "high_value_spike")


class WindowError(ValueError):
    """A data window that cannot be processed (empty, reversed or naive)."""


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(ts: datetime) -> int:
    """Exact integer microseconds since the Unix epoch of an aware datetime (the unit of the columns)."""
    # timedelta's own floor division: pendulum's DateTime subtracts to a subclass whose // fails
    return timedelta.__floordiv__(ts - EPOCH, _MICROSECOND)


def from_micros(us: int) -> datetime:
    """The UTC datetime ``us`` microseconds after the Unix epoch."""
    return EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open data window [start, end) in UTC, owned by exactly one DAG run."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise WindowError(f"window {name} must be a timezone-aware datetime, got {value!r}")
            utc = value.astimezone(UTC)
            if type(utc) is not datetime:  # e.g. pendulum's DateTime from Airflow: keep plain datetimes
                utc = datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=UTC)
            object.__setattr__(self, name, utc)
        if self.end <= self.start:
            raise WindowError(
                f"window end {self.end.isoformat()} must be after start {self.start.isoformat()}"
            )

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def minutes(self) -> float:
        return self.duration.total_seconds() / 60.0

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


@dataclass(slots=True)
class RuleHit:
    """One rule that fired on one transaction."""

    rule_id: str
    score: int
    explanation: str


@dataclass(slots=True)
class Transaction:
    """One banking transaction: generated fields first, then the fields scoring fills in."""

    uniq_id: UUID
    timestamp: datetime
    window_start: datetime
    window_end: datetime
    trans_type: str
    channel: str
    amount_cents: int  # in the reporting currency (USD)
    currency: str  # the account's currency
    amount_crr_cents: int  # the same amount in the account's currency
    account_id: UUID
    account_holder_name: str
    account_blacklisted: bool
    home_country: str
    card_ref: UUID
    card_id: str  # masked PAN, e.g. 411111******1234
    card_type: str
    card_presense: str  # sic: the original column name
    merchant_id: UUID
    merchant_name: str
    merchant_category: str
    country: str  # where the transaction happened
    city: str
    fraud_scenario: str | None = None  # ground truth; never an input to scoring
    # Filled by scoring:
    risk_score: int = 0
    decision: str | None = None
    rules_triggered: str | None = None
    rules_explanation: str | None = None
    rule_hits: list[RuleHit] = field(default_factory=list)
    rule_set_version: str | None = None


@dataclass(frozen=True, slots=True)
class PastTransaction:
    """A transaction loaded before the window being scored, as the rules see it."""

    timestamp: datetime
    account_id: UUID
    card_ref: UUID
    amount_cents: int
    country: str


@dataclass(slots=True)
class History:
    """Account history loaded before a window: past transactions per account, oldest first.

    ``since`` is the earliest timestamp that was read; rules must not look further back.
    """

    since: datetime
    until: datetime
    by_account: dict[UUID, list[PastTransaction]] = field(default_factory=dict)

    def for_account(self, account_id: UUID) -> list[PastTransaction]:
        return self.by_account.get(account_id, [])
