"""The shared vocabulary of the pipeline: a data window, the values of its columns, a rule hit.

Amounts are integer cents so that sums and thresholds are exact; they become
``numeric(12,2)`` in PostgreSQL. Timestamps are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

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


class ParamsError(ValueError):
    """Trigger parameters that cannot be used; nothing was written."""


class LoadError(RuntimeError):
    """A window that cannot be loaded as it is; nothing of it was written."""


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
US_PER_MINUTE = 60_000_000  # the columns' time unit (µs) per minute
_MICROSECOND = timedelta(microseconds=1)


def micros(ts: datetime) -> int:
    """Exact integer microseconds since the Unix epoch of an aware datetime (the unit of the columns)."""
    # timedelta's own floor division: pendulum's DateTime subtracts to a subclass whose // fails
    return timedelta.__floordiv__(ts - EPOCH, _MICROSECOND)


def floor_to(t: datetime, unit: timedelta) -> datetime:
    """``t`` rounded down to a whole ``unit`` since the epoch (a UTC minute, hour or day)."""
    return EPOCH + (t - EPOCH) // unit * unit


def ceil_to(t: datetime, unit: timedelta) -> datetime:
    """``t`` rounded up to a whole ``unit`` since the epoch."""
    return EPOCH - (EPOCH - t) // unit * unit


def from_micros(us: int) -> datetime:
    """The UTC datetime ``us`` microseconds after the Unix epoch."""
    return EPOCH + timedelta(microseconds=us)


def parse_datetime(text: str) -> datetime:
    """``datetime.fromisoformat``, also taking the ``Z`` of UTC, which it only takes from Python 3.11 on."""
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)


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
            utc = value.astimezone(timezone.utc)
            if type(utc) is not datetime:  # e.g. pendulum's DateTime from Airflow: keep plain datetimes
                utc = datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=timezone.utc)
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
