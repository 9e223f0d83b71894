"""A backtest request: the trigger params checked into a :class:`BacktestSpec` before anything is read.

Bad input (params, rules, an empty, reversed or too long range) raises :class:`BacktestInputError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from banking import paths
from banking.backtest.bounds import (
    BACKTEST_ID_PATTERN,
    DEFAULT_CHUNK_MINUTES,
    MAX_CHUNK_MINUTES,
    MAX_RANGE,
    PARAMS,
)
from banking.model import ParamsError, Window, parse_datetime
from banking.rules.config import load_rules, parse_rules
from banking.rules.rule_set import RuleSet

_BACKTEST_ID = re.compile(BACKTEST_ID_PATTERN)


class BacktestInputError(ParamsError):
    """Backtest params, rules or a range that cannot be used; nothing was written."""


@dataclass(frozen=True)
class BacktestSpec:
    """A validated backtest request."""

    backtest_id: str
    rule_set: RuleSet
    rules_text: str  # the candidate rules as given (file content or canonical JSON), kept with the run
    range: Window
    chunk: timedelta

    @property
    def chunk_minutes(self) -> int:
        return int(self.chunk / timedelta(minutes=1))


def parse_spec(params: Mapping[str, Any]) -> BacktestSpec:
    """Validate the trigger params (see ``PARAMS``); raises BacktestInputError or RuleConfigError."""
    unknown = sorted(k for k in params if k not in PARAMS)
    if unknown:
        raise BacktestInputError(
            f"unknown backtest param(s) {', '.join(unknown)}; allowed: {', '.join(PARAMS)}"
        )
    backtest_id = params.get("backtest_id")
    if not isinstance(backtest_id, str) or not _BACKTEST_ID.fullmatch(backtest_id):
        raise BacktestInputError(f"backtest_id must match {BACKTEST_ID_PATTERN}, got {backtest_id!r}")
    rule_set, rules_text = candidate_rules(params.get("rules_file"), params.get("rules_json"))
    start = _datetime("start", params.get("start"))
    end = _datetime("end", params.get("end"))
    if end <= start:
        raise BacktestInputError(
            f"the range [{start.isoformat()}, {end.isoformat()}) is empty or reversed: end must be after start"
        )
    if end - start > MAX_RANGE:
        raise BacktestInputError(
            f"the range [{start.isoformat()}, {end.isoformat()}) is longer than {MAX_RANGE.days} days; "
            "split it into several backtests"
        )
    chunk = params.get("chunk_minutes")
    chunk = DEFAULT_CHUNK_MINUTES if chunk is None else chunk
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= MAX_CHUNK_MINUTES:
        raise BacktestInputError(
            f"chunk_minutes must be an integer from 1 to {MAX_CHUNK_MINUTES}, got {params.get('chunk_minutes')!r}"
        )
    return BacktestSpec(backtest_id, rule_set, rules_text, Window(start, end), timedelta(minutes=chunk))


def candidate_rules(rules_file: object, rules_json: object) -> tuple[RuleSet, str]:
    """The candidate rule set from exactly one of a file under include/ or an inline JSON object."""
    if isinstance(rules_file, str) and not rules_file.strip():
        rules_file = None  # an emptied form field
    if rules_file is not None and rules_json is not None:
        raise BacktestInputError("give either rules_file or rules_json, not both")
    if rules_json is not None:
        if not isinstance(rules_json, Mapping):
            raise BacktestInputError(
                f"rules_json must be a JSON object with version, thresholds and rules, got {type(rules_json).__name__}"
            )
        rule_set = parse_rules(rules_json, source="rules_json")
        return rule_set, json.dumps(rules_json, sort_keys=True, ensure_ascii=False, default=str)
    if rules_file is None:
        raise BacktestInputError(
            "give the candidate rules: rules_file (a rule file under include/, e.g. rules/rules.yaml) "
            "or rules_json (the rules as a JSON object)"
        )
    if not isinstance(rules_file, str):
        raise BacktestInputError(f"rules_file must be a path under include/, got {rules_file!r}")
    path = resolve_rules_file(rules_file)
    rule_set = load_rules(path)
    return rule_set, path.read_text(encoding="utf-8")


def resolve_rules_file(name: str) -> Path:
    """``include/<name>``, refused unless it resolves (symlinks too) to a path inside include/."""
    root = paths.INCLUDE_DIR.resolve()
    path = (root / name).resolve()
    if root not in path.parents:
        raise BacktestInputError(
            f"rules_file must name a file inside include/ (e.g. rules/rules.yaml), got {name!r}"
        )
    return path


def _datetime(name: str, value: object) -> datetime:
    """An ISO 8601 datetime; a value without a UTC offset is taken as UTC."""
    parsed: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise BacktestInputError(
            f"{name} must be an ISO 8601 datetime such as 2026-11-20T12:00:00+00:00, got {value!r}"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
