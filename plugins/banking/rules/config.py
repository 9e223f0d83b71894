"""The rule file: read a YAML or JSON rule file and validate it into a :class:`RuleSet`.

Pure Python: no Airflow, no database. Every problem raises :class:`RuleConfigError` naming the
file, the rule and the field at fault. ``banking.rules.engine.score_columns`` evaluates the rules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from banking import paths
from banking.model import MERCHANT_CATEGORIES, TRANS_TYPES
from banking.rules import checks
from banking.rules.rule_set import (
    MAX_ENABLED_RULES,
    MAX_RISK_SCORE,
    AmountSpikeParams,
    CnpCategoryParams,
    HighValueParams,
    NewCountryParams,
    NoParams,
    OddHoursParams,
    Rule,
    RuleParams,
    RuleSet,
    VelocityParams,
)

INLINE_SOURCE = "<inline>"

_TOP_LEVEL_KEYS = ("version", "thresholds", "rules")
_THRESHOLD_KEYS = ("reject", "review")
_RULE_KEYS = ("id", "type", "description", "score", "enabled", "trans_types", "params")
_REQUIRED_RULE_KEYS = ("id", "type", "description", "score")


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


_ParamSpec = dict[str, tuple[checks.Check, bool]]

_RULE_TYPES: dict[str, tuple[type, _ParamSpec]] = {
    "high_value": (HighValueParams, {"min_amount": (checks.number(gt=0), True)}),
    "blacklisted_account": (NoParams, {}),
    "velocity": (
        VelocityParams,
        {
            "key": (checks.choice(("card", "account")), True),
            "window_minutes": (checks.integer(1), True),
            "max_count": (checks.integer(1), False),
            "max_amount": (checks.number(gt=0), False),
        },
    ),
    "amount_spike": (
        AmountSpikeParams,
        {
            "multiplier": (checks.number(gt=1), True),
            "lookback_days": (checks.integer(1), True),
            "min_history": (checks.integer(1), True),
            "min_amount": (checks.number(ge=0), False),
        },
    ),
    "new_country": (
        NewCountryParams,
        {"lookback_days": (checks.integer(1), True), "min_history": (checks.integer(0), False)},
    ),
    "cnp_high_risk_category": (
        CnpCategoryParams,
        {"categories": (checks.choices(MERCHANT_CATEGORIES), True)},
    ),
    "odd_hours": (
        OddHoursParams,
        {
            "start_hour": (checks.integer(0, 23), True),
            "end_hour": (checks.integer(0, 23), True),
            "min_amount": (checks.number(ge=0), False),
        },
    ),
}
RULE_TYPES = tuple(_RULE_TYPES)


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
    version = _optional(source, None, "version", data, checks.text)
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


def _check(source: str, rule: str | None, name: str, value: object, check: checks.Check) -> Any:
    try:
        return check(value)
    except checks.Bad as exc:
        raise RuleConfigError(source, str(exc), rule=rule, field=name) from None


def _optional(source: str, rule: str | None, name: str, data: Mapping, check: checks.Check) -> Any:
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
    score = checks.integer(1, MAX_RISK_SCORE)
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
    enabled = sum(r.enabled for r in rules)
    if enabled > MAX_ENABLED_RULES:
        raise RuleConfigError(
            source, f"has {enabled} enabled rules; at most {MAX_ENABLED_RULES} can be enabled", field="rules"
        )
    return tuple(rules)


def _parse_rule(source: str, position: int, item: object) -> Rule:
    label = f"rule #{position}"
    if not isinstance(item, Mapping):
        raise RuleConfigError(source, f"must be a mapping, got {item!r}", rule=label, field="rules")
    if "id" in item:  # name the rule by its id as soon as the id is valid
        label = f"rule '{_check(source, label, 'id', item['id'], checks.rule_id)}'"
    _reject_unknown(source, label, item, _RULE_KEYS, "rule field", prefix="")
    for name in _REQUIRED_RULE_KEYS:
        if name not in item:
            raise RuleConfigError(source, "is required", rule=label, field=name)
    rule_id = item["id"]
    rule_type = _check(source, label, "type", item["type"], checks.choice(RULE_TYPES))
    return Rule(
        id=rule_id,
        type=rule_type,
        description=_check(source, label, "description", item["description"], checks.text),
        score=_check(source, label, "score", item["score"], checks.integer(0, MAX_RISK_SCORE)),
        enabled=_check(source, label, "enabled", item.get("enabled", True), checks.boolean),
        trans_types=_optional(source, label, "trans_types", item, checks.choices(TRANS_TYPES)),
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
