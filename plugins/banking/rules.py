"""The fraud rules engine: load and validate a rule set, then score a batch of transactions.

Pure Python: no Airflow, no database. The caller loads the rule set (``load_rules``), the account
history that precedes the window (``RuleSet.lookback`` says how far back) and the window's
transactions, and ``score_batch`` fills in the scoring fields of every transaction in place.

Scoring is online and deterministic: transactions are processed in (timestamp, uniq_id) order,
exactly as if they arrived one by one, so a rule sees the account's history plus the batch's
earlier transactions and never a later one. ``fraud_scenario`` (ground truth) is never read.

Amounts in the rule file are USD units; transactions carry integer cents. Every window is
half-open on the left: a rule looking back W sees the transactions with ``t - W < ts <= t``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone
from operator import attrgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from banking import countries, paths
from banking.model import (
    APPROVED,
    CARD_NOT_PRESENT,
    DECISIONS,
    MERCHANT_CATEGORIES,
    NO_RULES_TRIGGERED,
    REAL_TIME,
    REJECTED,
    REVIEW,
    TRANS_TYPES,
    History,
    PastTransaction,
    RuleHit,
    Transaction,
)

NO_HITS_EXPLANATION = "No rules triggered: within all limits"
MAX_RISK_SCORE = 100
INLINE_SOURCE = "<inline>"

_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
_TOP_LEVEL_KEYS = ("version", "thresholds", "rules")
_THRESHOLD_KEYS = ("reject", "review")
_RULE_KEYS = ("id", "type", "description", "score", "enabled", "trans_types", "params")
_REQUIRED_RULE_KEYS = ("id", "type", "description", "score")


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class RuleConfigError(ValueError):
    """An invalid rule file; the message names the file, the rule and the field at fault."""

    def __init__(self, source: str, problem: str, *, rule: str | None = None, field: str | None = None):
        self.source = source
        self.rule = rule
        self.field = field
        self.problem = problem
        parts = [source]
        if rule is not None:
            parts.append(rule)
        parts.append(f"field '{field}' {problem}" if field is not None else problem)
        super().__init__(": ".join(parts))


class _Bad(Exception):
    """A value failed a check; carries the problem text (``must be ..., got ...``)."""


# --------------------------------------------------------------------------------------------
# Typed rule parameters, one dataclass per rule type
# --------------------------------------------------------------------------------------------


def _to_cents(usd: float) -> int:
    return round(usd * 100)


@dataclass(frozen=True)
class NoParams:
    """Parameters of a rule type that takes none (``blacklisted_account``)."""


@dataclass(frozen=True)
class HighValueParams:
    min_amount: float  # USD; fires when amount >= min_amount

    @property
    def min_cents(self) -> int:
        return _to_cents(self.min_amount)


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


# --------------------------------------------------------------------------------------------
# Value checks: each returns the (normalised) value or raises _Bad("must be ..., got ...")
# --------------------------------------------------------------------------------------------

_Check = Callable[[Any], Any]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(lo: int | None = None, hi: int | None = None) -> _Check:
    if hi is not None:
        desc = f"an integer from {lo} to {hi}"
    elif lo == 1:
        desc = "a positive integer"
    elif lo == 0:
        desc = "a non-negative integer"
    else:
        desc = f"an integer >= {lo}"

    def check(value: Any) -> int:
        if not _is_int(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
            raise _Bad(f"must be {desc}, got {value!r}")
        return value

    return check


def _number(*, gt: float | None = None, ge: float | None = None) -> _Check:
    desc = f"a number > {gt:g}" if gt is not None else f"a number >= {ge:g}" if ge is not None else "a number"

    def check(value: Any) -> float:
        ok = (_is_int(value) or isinstance(value, float)) and math.isfinite(value)
        if ok and ((gt is not None and value <= gt) or (ge is not None and value < ge)):
            ok = False
        if not ok:
            raise _Bad(f"must be {desc}, got {value!r}")
        return value

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"must be true or false, got {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"must be a non-empty string, got {value!r}")
    return value


def _choice(options: tuple[str, ...]) -> _Check:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise _Bad(f"must be one of {', '.join(options)}, got {value!r}")
        return value

    return check


def _choices(options: tuple[str, ...]) -> _Check:
    """A non-empty list of distinct values from ``options``, returned as a tuple."""

    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise _Bad(f"must be a non-empty list of {', '.join(options)}, got {value!r}")
        for item in value:
            if not isinstance(item, str) or item not in options:
                raise _Bad(f"has unknown value {item!r}; allowed: {', '.join(options)}")
        if len(set(value)) != len(value):
            raise _Bad(f"must not repeat values, got {value!r}")
        return tuple(value)

    return check


def _rule_id(value: Any) -> str:
    if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
        raise _Bad(f"must match [a-z][a-z0-9_]*, got {value!r}")
    return value


# name -> (check, required); the dataclass supplies defaults for optional ones.
_ParamSpec = dict[str, tuple[_Check, bool]]

_RULE_TYPES: dict[str, tuple[type, _ParamSpec]] = {
    "high_value": (HighValueParams, {"min_amount": (_number(gt=0), True)}),
    "blacklisted_account": (NoParams, {}),
    "velocity": (
        VelocityParams,
        {
            "key": (_choice(("card", "account")), True),
            "window_minutes": (_integer(1), True),
            "max_count": (_integer(1), False),
            "max_amount": (_number(gt=0), False),
        },
    ),
    "amount_spike": (
        AmountSpikeParams,
        {
            "multiplier": (_number(gt=1), True),
            "lookback_days": (_integer(1), True),
            "min_history": (_integer(1), True),
            "min_amount": (_number(ge=0), False),
        },
    ),
    "new_country": (
        NewCountryParams,
        {"lookback_days": (_integer(1), True), "min_history": (_integer(0), False)},
    ),
    "cnp_high_risk_category": (CnpCategoryParams, {"categories": (_choices(MERCHANT_CATEGORIES), True)}),
    "odd_hours": (
        OddHoursParams,
        {
            "start_hour": (_integer(0, 23), True),
            "end_hour": (_integer(0, 23), True),
            "min_amount": (_number(ge=0), False),
        },
    ),
}
RULE_TYPES = tuple(_RULE_TYPES)


# --------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that rejects duplicate mapping keys instead of keeping the last, and aliases:
    a few hundred bytes of nested aliases expand to millions of values (a "billion laughs" file)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"YAML aliases (*{event.anchor}) are not allowed in rule files", event.start_mark
            )
        return super().compose_node(parent, index)


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _json_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


def _display_path(path: Path) -> str:
    """The path relative to the project root when inside it (shorter messages), else as given."""
    try:
        return str(path.resolve().relative_to(paths.PROJECT_ROOT))
    except ValueError:
        return str(path)


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load and validate a rule file (YAML for .yaml/.yml, JSON for .json); default ``paths.RULES_FILE``."""
    file = Path(path) if path is not None else paths.RULES_FILE
    source = _display_path(file)
    suffix = file.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        kind = suffix or "(none)"
        raise RuleConfigError(source, f"unsupported rule file type {kind!r}; use .yaml, .yml or .json")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleConfigError(source, f"cannot read rule file: {exc}") from exc
    try:
        if suffix == ".json":
            data = json.loads(text, object_pairs_hook=_json_object, parse_constant=_json_constant)
        else:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError) as exc:
        kind = "JSON" if suffix == ".json" else "YAML"
        raise RuleConfigError(source, f"malformed {kind}: {_parse_problem(exc)}") from exc
    return parse_rules(data, source)


def _parse_problem(exc: Exception) -> str:
    """A one-line description of a YAML/JSON syntax error with its position."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return " ".join(str(exc).split())


def parse_rules(data: object, source: str = INLINE_SOURCE) -> RuleSet:
    """Validate an already-parsed rule file (a mapping) and build the RuleSet."""
    if not isinstance(data, Mapping):
        raise RuleConfigError(
            source, f"must be a mapping with keys {', '.join(_TOP_LEVEL_KEYS)}, got {type(data).__name__}"
        )
    _reject_unknown(source, None, data, _TOP_LEVEL_KEYS, "top-level key", prefix="")
    version = _optional(source, None, "version", data, _text)
    reject, review = _parse_thresholds(source, data)
    rules = _parse_rule_list(source, data)
    digest = _content_hash(data)
    return RuleSet(
        version=f"{version}+{digest}" if version is not None else f"sha-{digest}",
        rules=rules,
        reject_score=reject,
        review_score=review,
        source=source,
    )


def _content_hash(data: object) -> str:
    """First 10 hex digits of the sha256 of the canonical JSON of the content."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]


def _check(source: str, rule: str | None, name: str, value: object, check: _Check) -> Any:
    try:
        return check(value)
    except _Bad as exc:
        raise RuleConfigError(source, str(exc), rule=rule, field=name) from None


def _optional(source: str, rule: str | None, name: str, data: Mapping, check: _Check) -> Any:
    """A key that may be missing or null (-> None)."""
    value = data.get(name)
    return None if value is None else _check(source, rule, name, value, check)


def _reject_unknown(
    source: str, rule: str | None, data: Mapping, known: tuple[str, ...] | list[str], what: str, prefix: str
) -> None:
    for key in data:
        if key not in known:
            allowed = ", ".join(known) or "none"
            raise RuleConfigError(
                source, f"is not a known {what} (allowed: {allowed})", rule=rule, field=f"{prefix}{key}"
            )


def _parse_thresholds(source: str, data: Mapping) -> tuple[int, int | None]:
    raw = data.get("thresholds")
    if not isinstance(raw, Mapping):
        raise RuleConfigError(
            source, f"must be a mapping with 'reject' and optional 'review', got {raw!r}", field="thresholds"
        )
    _reject_unknown(source, None, raw, _THRESHOLD_KEYS, "threshold", prefix="thresholds.")
    score = _integer(1, MAX_RISK_SCORE)
    if "reject" not in raw:
        raise RuleConfigError(source, "is required", field="thresholds.reject")
    reject = _check(source, None, "thresholds.reject", raw["reject"], score)
    review = raw.get("review")
    if review is not None:
        review = _check(source, None, "thresholds.review", review, score)
        if review >= reject:
            problem = f"must be less than thresholds.reject ({reject}), got {review!r}"
            raise RuleConfigError(source, problem, field="thresholds.review")
    return reject, review


def _parse_rule_list(source: str, data: Mapping) -> tuple[Rule, ...]:
    raw = data.get("rules")
    if not isinstance(raw, list) or not raw:
        raise RuleConfigError(source, f"must be a non-empty list of rules, got {raw!r}", field="rules")
    rules: list[Rule] = []
    first_seen: dict[str, int] = {}
    for position, item in enumerate(raw, start=1):
        rule = _parse_rule(source, position, item)
        if rule.id in first_seen:
            raise RuleConfigError(
                source,
                f"duplicates the id of rule #{first_seen[rule.id]}",
                rule=f"rule '{rule.id}'",
                field="id",
            )
        first_seen[rule.id] = position
        rules.append(rule)
    return tuple(rules)


def _parse_rule(source: str, position: int, item: object) -> Rule:
    label = f"rule #{position}"
    if not isinstance(item, Mapping):
        raise RuleConfigError(source, f"must be a mapping, got {item!r}", rule=label, field="rules")
    if "id" in item:  # name the rule by its id as soon as the id is valid
        label = f"rule '{_check(source, label, 'id', item['id'], _rule_id)}'"
    _reject_unknown(source, label, item, _RULE_KEYS, "rule field", prefix="")
    for name in _REQUIRED_RULE_KEYS:
        if name not in item:
            raise RuleConfigError(source, "is required", rule=label, field=name)
    rule_id = item["id"]
    rule_type = _check(source, label, "type", item["type"], _choice(RULE_TYPES))
    return Rule(
        id=rule_id,
        type=rule_type,
        description=_check(source, label, "description", item["description"], _text),
        score=_check(source, label, "score", item["score"], _integer(0, MAX_RISK_SCORE)),
        enabled=_check(source, label, "enabled", item.get("enabled", True), _boolean),
        trans_types=_optional(source, label, "trans_types", item, _choices(TRANS_TYPES)),
        params=_parse_params(source, label, rule_type, item.get("params")),
    )


def _parse_params(source: str, label: str, rule_type: str, raw: object) -> RuleParams:
    cls, spec = _RULE_TYPES[rule_type]
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise RuleConfigError(source, f"must be a mapping, got {raw!r}", rule=label, field="params")
    _reject_unknown(source, label, raw, list(spec), f"parameter of {rule_type} rules", prefix="")
    values: dict[str, Any] = {}
    for name, (check, required) in spec.items():
        if name in raw:
            values[name] = _check(source, label, name, raw[name], check)
        elif required:
            raise RuleConfigError(source, f"is required for {rule_type} rules", rule=label, field=name)
    params = cls(**values)
    _cross_check(source, label, params)
    return params


def _cross_check(source: str, label: str, params: RuleParams) -> None:
    """Constraints between parameters of one rule."""
    if isinstance(params, VelocityParams) and params.max_count is None and params.max_amount is None:
        raise RuleConfigError(
            source, "or max_amount (or both) is required for velocity rules", rule=label, field="max_count"
        )
    if isinstance(params, OddHoursParams) and params.start_hour == params.end_hour:
        raise RuleConfigError(
            source, f"must differ from start_hour, got {params.end_hour!r}", rule=label, field="end_hour"
        )


# --------------------------------------------------------------------------------------------
# Scoring state: per-account / per-card timelines and sliding windows over them
# --------------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NEVER = 1 << 62
_US_PER_MIN = 60_000_000
_US_PER_DAY = 86_400_000_000
_timestamp_of = attrgetter("timestamp")


def _micros(ts: datetime) -> int:
    """Exact integer microseconds since the epoch of an aware datetime."""
    return (ts - _EPOCH) // _MICROSECOND


class _Timeline:
    """The transactions of one account (or card) seen so far, oldest first.

    History rows are fed lazily (``catch_up``) so that a history row is seen before any batch
    row with the same or a later timestamp, exactly as if everything arrived in order.
    """

    __slots__ = ("ts", "amounts", "countries", "windows", "_pending", "_next", "_next_us")

    def __init__(self, pending: list[PastTransaction], slots: int):
        self.ts: list[int] = []
        self.amounts: list[int] = []
        self.countries: list[str] = []
        self.windows: list[_Window | None] = [None] * slots
        self._pending = pending
        self._next = 0
        self._next_us = _micros(pending[0].timestamp) if pending else _NEVER

    def catch_up(self, t_us: int) -> None:
        """Feed the history rows with timestamp <= t_us."""
        pending = self._pending
        while self._next_us <= t_us:
            row = pending[self._next]
            self.append(self._next_us, row.amount_cents, row.country)
            self._next += 1
            self._next_us = _micros(pending[self._next].timestamp) if self._next < len(pending) else _NEVER

    def append(self, t_us: int, amount_cents: int, country: str) -> None:
        self.ts.append(t_us)
        self.amounts.append(amount_cents)
        self.countries.append(country)


class _Window:
    """Running count / sum (and optionally country counts) of a timeline's entries in (t - span, t]."""

    __slots__ = ("line", "span", "lo", "hi", "total", "by_country")

    def __init__(self, line: _Timeline, span_us: int, track_countries: bool):
        self.line = line
        self.span = span_us
        self.lo = 0
        self.hi = 0
        self.total = 0
        self.by_country: dict[str, int] | None = {} if track_countries else None

    @property
    def count(self) -> int:
        return self.hi - self.lo

    def slide(self, t_us: int) -> None:
        """Cover every entry appended so far whose timestamp is after t_us - span."""
        line = self.line
        ts, amounts, by_country = line.ts, line.amounts, self.by_country
        hi, n = self.hi, len(ts)
        if hi < n:
            self.total += sum(amounts[hi:n])
            if by_country is not None:
                for c in line.countries[hi:n]:
                    by_country[c] = by_country.get(c, 0) + 1
            self.hi = n
        cutoff = t_us - self.span
        lo = self.lo
        if lo < n and ts[lo] <= cutoff:
            total = self.total
            while lo < n and ts[lo] <= cutoff:
                total -= amounts[lo]
                if by_country is not None:
                    by_country[line.countries[lo]] -= 1
                lo += 1
            self.total, self.lo = total, lo


class _Timelines:
    """Lazily built timelines per account and per card, seeded from the loaded history."""

    def __init__(self, history: History, lookback: timedelta, slots: int):
        self._history = history
        self._lookback = lookback
        self._slots = slots
        self._accounts: dict[Any, _Timeline] = {}
        self._account_history: dict[Any, list[PastTransaction]] = {}
        self._cards: dict[Any, _Timeline] = {}

    def _recent_history(self, tx: Transaction) -> list[PastTransaction]:
        """The account's history rows a rule can still see from this (its first) transaction on."""
        rows = self._account_history.get(tx.account_id)
        if rows is None:
            rows = self._history.for_account(tx.account_id)
            start = bisect_right(rows, tx.timestamp - self._lookback, key=_timestamp_of)
            rows = self._account_history[tx.account_id] = rows[start:] if start else rows
        return rows

    def account(self, tx: Transaction, t_us: int) -> _Timeline:
        line = self._accounts.get(tx.account_id)
        if line is None:
            line = self._accounts[tx.account_id] = _Timeline(self._recent_history(tx), self._slots)
        line.catch_up(t_us)
        return line

    def card(self, tx: Transaction, t_us: int) -> _Timeline:
        line = self._cards.get(tx.card_ref)
        if line is None:
            rows = [r for r in self._recent_history(tx) if r.card_ref == tx.card_ref]
            line = self._cards[tx.card_ref] = _Timeline(rows, self._slots)
        line.catch_up(t_us)
        return line


class _LocalClock:
    """Local wall-clock seconds in a home country's timezone, with UTC offsets cached per hour."""

    def __init__(self) -> None:
        self._zones: dict[str, ZoneInfo | timezone] = {}
        self._offsets: dict[tuple[str, int], int | None] = {}

    def zone(self, home_country: str) -> ZoneInfo | timezone:
        zone = self._zones.get(home_country)
        if zone is None:
            try:
                zone = countries.country(home_country).zone
            except KeyError:
                zone = UTC  # unknown home country: fall back to UTC rather than fail the batch
            self._zones[home_country] = zone
        return zone

    def local_seconds(self, home_country: str, t_s: int) -> int:
        """Seconds since the epoch of the local wall-clock time of UTC second t_s."""
        key = (home_country, t_s // 3600)
        try:
            offset = self._offsets[key]
        except KeyError:  # cache the hour's offset only if it is constant for the whole hour
            zone = self.zone(home_country)
            start = key[1] * 3600
            first, last = _utc_offset(zone, start), _utc_offset(zone, start + 3599)
            offset = self._offsets[key] = first if first == last else None
        if offset is None:  # a UTC offset change inside this hour
            offset = _utc_offset(self.zone(home_country), t_s)
        return t_s + offset


def _utc_offset(zone: ZoneInfo | timezone, t_s: int) -> int:
    delta = datetime.fromtimestamp(t_s, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


# --------------------------------------------------------------------------------------------
# Evaluators: one per enabled rule; check() returns an explanation when the rule fires
# --------------------------------------------------------------------------------------------


def _usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{frac:02d} USD"


def _minutes_text(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} min"


class _Evaluator:
    __slots__ = ("rule_id", "score", "trans_types", "slot")

    def __init__(self, rule: Rule, slot: int):
        self.rule_id = rule.id
        self.score = rule.score
        self.trans_types = frozenset(rule.trans_types) if rule.trans_types is not None else None
        self.slot = slot  # index of this rule's window on a timeline

    def window(self, line: _Timeline, span_us: int, track_countries: bool = False) -> _Window:
        w = line.windows[self.slot]
        if w is None:
            w = line.windows[self.slot] = _Window(line, span_us, track_countries)
        return w

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        raise NotImplementedError


class _HighValue(_Evaluator):
    __slots__ = ("min_cents",)

    def __init__(self, rule: Rule, slot: int):
        super().__init__(rule, slot)
        assert isinstance(rule.params, HighValueParams)
        self.min_cents = rule.params.min_cents

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        if tx.amount_cents < self.min_cents:
            return None
        kind = "real-time" if tx.trans_type == REAL_TIME else tx.trans_type
        return f"High-value {kind} transaction: {_usd(tx.amount_cents)} >= {_usd(self.min_cents)} limit"


class _Blacklisted(_Evaluator):
    __slots__ = ()

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        return "Account is on the blacklist" if tx.account_blacklisted else None


class _Velocity(_Evaluator):
    __slots__ = ("by_card", "minutes", "span", "max_count", "max_cents")

    def __init__(self, rule: Rule, slot: int):
        super().__init__(rule, slot)
        p = rule.params
        assert isinstance(p, VelocityParams)
        self.by_card = p.key == "card"
        self.minutes = p.window_minutes
        self.span = p.window_minutes * _US_PER_MIN
        self.max_count = p.max_count
        self.max_cents = _to_cents(p.max_amount) if p.max_amount is not None else None

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        line = card if self.by_card and card is not None else account
        w = self.window(line, self.span)
        w.slide(t_us)
        count = w.count + 1  # the current transaction is inside its own window
        total = w.total + tx.amount_cents
        over_count = self.max_count is not None and count > self.max_count
        over_amount = self.max_cents is not None and total > self.max_cents
        if not (over_count or over_amount):
            return None
        key = "card" if self.by_card else "account"
        span = _minutes_text(self.minutes)
        if over_count and not over_amount:
            return f"{count} {key} transactions in {span} (limit {self.max_count})"
        limit = _usd(self.max_cents or 0)
        if over_amount and not over_count:
            return f"{count} {key} transactions totalling {_usd(total)} in {span} (limit {limit})"
        return (
            f"{count} {key} transactions totalling {_usd(total)} in {span} "
            f"(limits {self.max_count} transactions, {limit})"
        )


class _AmountSpike(_Evaluator):
    __slots__ = ("multiplier", "days", "span", "min_history", "min_cents")

    def __init__(self, rule: Rule, slot: int):
        super().__init__(rule, slot)
        p = rule.params
        assert isinstance(p, AmountSpikeParams)
        self.multiplier = p.multiplier
        self.days = p.lookback_days
        self.span = p.lookback_days * _US_PER_DAY
        self.min_history = p.min_history
        self.min_cents = _to_cents(p.min_amount)

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        amount = tx.amount_cents
        if amount < self.min_cents:
            return None
        w = self.window(account, self.span)
        w.slide(t_us)
        n, total = w.count, w.total
        # amount > multiplier * mean, without dividing; a non-positive mean is no baseline.
        if n < self.min_history or total <= 0 or amount * n <= self.multiplier * total:
            return None
        mean = total / n
        return (
            f"Amount {_usd(amount)} is {amount / mean:.1f}x the account's {self.days}-day mean "
            f"of {_usd(round(mean))} over {n} transactions (limit {self.multiplier:g}x)"
        )


class _NewCountry(_Evaluator):
    __slots__ = ("days", "span", "min_history")

    def __init__(self, rule: Rule, slot: int):
        super().__init__(rule, slot)
        p = rule.params
        assert isinstance(p, NewCountryParams)
        self.days = p.lookback_days
        self.span = p.lookback_days * _US_PER_DAY
        self.min_history = p.min_history

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        if tx.country == tx.home_country:
            return None
        w = self.window(account, self.span, track_countries=True)
        w.slide(t_us)
        if w.count < self.min_history or (w.by_country or {}).get(tx.country, 0) > 0:
            return None
        return f"First transaction from {tx.country} in {self.days} days (home {tx.home_country})"


class _CnpCategory(_Evaluator):
    __slots__ = ("categories",)

    def __init__(self, rule: Rule, slot: int):
        super().__init__(rule, slot)
        assert isinstance(rule.params, CnpCategoryParams)
        self.categories = frozenset(rule.params.categories)

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        if tx.card_presense != CARD_NOT_PRESENT or tx.merchant_category not in self.categories:
            return None
        return f"Card-not-present payment in high-risk category {tx.merchant_category}"


class _OddHours(_Evaluator):
    __slots__ = ("hours", "start", "end", "min_cents", "clock")

    def __init__(self, rule: Rule, slot: int, clock: _LocalClock):
        super().__init__(rule, slot)
        p = rule.params
        assert isinstance(p, OddHoursParams)
        self.start, self.end = p.start_hour, p.end_hour
        self.hours = tuple(_in_hour_range(h, p.start_hour, p.end_hour) for h in range(24))
        self.min_cents = _to_cents(p.min_amount)
        self.clock = clock

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        if tx.amount_cents < self.min_cents:
            return None
        local = self.clock.local_seconds(tx.home_country, t_us // 1_000_000)
        hour = local // 3600 % 24
        if not self.hours[hour]:
            return None
        zone = self.clock.zone(tx.home_country)
        return (
            f"Transaction at {hour:02d}:{local // 60 % 60:02d} local time ({zone}), "
            f"inside odd hours {self.start:02d}:00-{self.end:02d}:00"
        )


def _in_hour_range(hour: int, start: int, end: int) -> bool:
    """hour in [start, end), wrapping midnight when start > end."""
    return start <= hour < end if start < end else hour >= start or hour < end


def _build_evaluators(rule_set: RuleSet) -> list[_Evaluator]:
    clock = _LocalClock()
    evaluators: list[_Evaluator] = []
    for slot, rule in enumerate(rule_set.enabled_rules):
        if rule.type == "odd_hours":
            evaluators.append(_OddHours(rule, slot, clock))
        else:
            evaluators.append(_EVALUATORS[rule.type](rule, slot))
    return evaluators


_EVALUATORS: dict[str, Callable[[Rule, int], _Evaluator]] = {
    "high_value": _HighValue,
    "blacklisted_account": _Blacklisted,
    "velocity": _Velocity,
    "amount_spike": _AmountSpike,
    "new_country": _NewCountry,
    "cnp_high_risk_category": _CnpCategory,
}


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


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


def _order(tx: Transaction) -> tuple[datetime, Any]:
    return (tx.timestamp, tx.uniq_id)


def score_batch(transactions: list[Transaction], history: History, rule_set: RuleSet) -> ScoreSummary:
    """Score every transaction in place (rule_hits, risk_score, decision, ...); return batch counts.

    Transactions are processed in (timestamp, uniq_id) order; each rule sees the account's
    history plus the batch's earlier transactions. ``trans_types`` restricts which transactions
    a rule is evaluated on, not which transactions count as history.
    """
    evaluators = _build_evaluators(rule_set)
    need_cards = any(isinstance(e, _Velocity) and e.by_card for e in evaluators)
    lines = _Timelines(history, rule_set.lookback, len(evaluators))
    summary = ScoreSummary(
        rows=len(transactions),
        decisions=dict.fromkeys(DECISIONS, 0),
        hits_by_rule={e.rule_id: 0 for e in evaluators},
        rule_set_version=rule_set.version,
    )
    for tx in sorted(transactions, key=_order):
        t_us = _micros(tx.timestamp)
        account = lines.account(tx, t_us)
        card = lines.card(tx, t_us) if need_cards else None
        hits: list[RuleHit] = []
        for ev in evaluators:
            if ev.trans_types is not None and tx.trans_type not in ev.trans_types:
                continue
            explanation = ev.check(tx, t_us, account, card)
            if explanation is not None:
                hits.append(RuleHit(ev.rule_id, ev.score, explanation))
                summary.hits_by_rule[ev.rule_id] += 1
        account.append(t_us, tx.amount_cents, tx.country)
        if card is not None:
            card.append(t_us, tx.amount_cents, tx.country)
        _apply(tx, hits, rule_set)
        summary.decisions[tx.decision] += 1  # type: ignore[index]
        summary.total_risk_score += tx.risk_score
    return summary


def _apply(tx: Transaction, hits: list[RuleHit], rule_set: RuleSet) -> None:
    """Write the scoring fields of one transaction from its rule hits."""
    tx.rule_hits = hits
    tx.risk_score = min(MAX_RISK_SCORE, sum([h.score for h in hits]))
    tx.decision = rule_set.decide(tx.risk_score)
    if len(hits) == 1:
        tx.rules_triggered, tx.rules_explanation = hits[0].rule_id, hits[0].explanation
    elif hits:
        tx.rules_triggered = ", ".join([h.rule_id for h in hits])
        tx.rules_explanation = "; ".join([h.explanation for h in hits])
    else:
        tx.rules_triggered = NO_RULES_TRIGGERED
        tx.rules_explanation = NO_HITS_EXPLANATION
    tx.rule_set_version = rule_set.version
