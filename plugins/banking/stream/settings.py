"""Validated generator settings, from defaults, the environment (``BANKING_*``) and trigger params.

Every value is checked once here; a bad value raises :class:`SettingsError` naming where it came
from, the field and what was expected, before anything touches the database. Standard library only:
the DAG files import this module when they are parsed, to build their Params from ``SPECS``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

ENV_PREFIX = "BANKING_"


class SettingsError(ValueError):
    """A setting that is missing, of the wrong type or out of range."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: type  # int or float
    low: float
    high: float
    help: str


# The single source of truth for every setting's type and range: the checks below and the trigger form's
# Params (dags/banking_transactions.py) both read it.
SPECS: dict[str, FieldSpec] = {
    "seed": FieldSpec(int, 0, 2**31 - 1, "seed of the population and of every window's transactions"),
    "rate_per_minute": FieldSpec(float, 0.0, 100_000.0, "average transactions per minute"),
    "fraud_rate": FieldSpec(float, 0.0, 0.5, "share of transactions that belong to injected fraud scenarios"),
    "n_accounts": FieldSpec(int, 10, 10_000_000, "accounts in the synthetic population"),
    "n_merchants": FieldSpec(int, 10, 200_000, "merchants in the synthetic population"),
    "blacklist_rate": FieldSpec(float, 0.0, 0.5, "share of accounts on the blacklist"),
    "variant": FieldSpec(
        int, 0, 2**31 - 1, "another reproducible stream for the same windows (0 is the default)"
    ),
}
# The longest data window one run may own (the DAG's window_minutes Param, checked again by the tasks).
MAX_WINDOW_MINUTES = 1440
# More transactions a day than this per account on average is far busier than real customers: the
# generate task warns, since the velocity rules then fire on ordinary traffic.
BUSY_ACCOUNT_TXNS_PER_DAY = 20
# What a real bank's customer makes a day on average (docs/population.md sizes populations by it).
REALISTIC_TXNS_PER_DAY = 2.5
# Settings a trigger form may change: the population stays the one banking_schema seeded.
STREAM_FIELDS = ("rate_per_minute", "fraud_rate", "variant")
# What a run of banking_transactions may be triggered with: its window and the stream settings.
TRIGGER_PARAMS = ("window_minutes", *STREAM_FIELDS)


@dataclass(frozen=True, slots=True)
class GeneratorSettings:
    """What the synthetic stream looks like. The population depends on the first field group only."""

    seed: int = 42
    # At the default rate, 2.9 transactions per account a day on average (a median about 2.4), as
    # in a real bank's card book.
    n_accounts: int = 50_000
    n_merchants: int = 800
    blacklist_rate: float = 0.02
    rate_per_minute: float = 100.0
    fraud_rate: float = 0.02
    variant: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _check(f.name, getattr(self, f.name), "settings"))

    @property
    def population_key(self) -> tuple[int, int, int, float]:
        """The settings the population is built from (and nothing else)."""
        return (self.seed, self.n_accounts, self.n_merchants, self.blacklist_rate)

    @property
    def txns_per_account_per_day(self) -> float:
        """How many transactions an account makes a day on average at this rate."""
        return self.rate_per_minute * 1440 / self.n_accounts

    @property
    def realistic_n_accounts(self) -> int:
        """The accounts that give this rate about REALISTIC_TXNS_PER_DAY each, within n_accounts' range."""
        spec = SPECS["n_accounts"]
        return int(min(max(round(self.rate_per_minute * 1440 / REALISTIC_TXNS_PER_DAY), spec.low), spec.high))

    @property
    def population_version(self) -> str:
        return _digest({"population": list(self.population_key)})

    @property
    def digest(self) -> str:
        """A short content hash of all settings: part of every window's random seed."""
        return _digest(asdict(self))

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "params") -> GeneratorSettings:
        """Return a copy with ``overrides`` applied (None values are ignored); unknown keys are errors."""
        unknown = sorted(set(overrides) - set(SPECS))
        if unknown:
            raise SettingsError(
                f"{source}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(SPECS)}"
            )
        values = {k: _check(k, v, source) for k, v in overrides.items() if v is not None}
        return replace(self, **values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_env(environ: Mapping[str, str] | None = None) -> GeneratorSettings:
    """Defaults overridden by ``BANKING_<FIELD>`` environment variables (e.g. ``BANKING_RATE_PER_MINUTE``)."""
    environ = os.environ if environ is None else environ
    overrides: dict[str, Any] = {}
    for name, spec in SPECS.items():
        key = ENV_PREFIX + name.upper()
        raw = environ.get(key)
        if raw is None or raw.strip() == "":
            continue
        try:
            overrides[name] = spec.kind(raw.strip()) if spec.kind is float else int(raw.strip(), 10)
        except ValueError:
            raise SettingsError(
                f"environment variable {key}: expected {spec.kind.__name__} ({spec.help}), got {raw!r}"
            ) from None
    return GeneratorSettings().with_overrides(overrides, source="environment")


def _check(name: str, value: Any, source: str) -> Any:
    spec = SPECS[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(f"{source}: {name} must be a {spec.kind.__name__} ({spec.help}), got {value!r}")
    if spec.kind is int and not float(value).is_integer():
        raise SettingsError(f"{source}: {name} must be an integer ({spec.help}), got {value!r}")
    if not math.isfinite(value) or not spec.low <= value <= spec.high:
        raise SettingsError(f"{source}: {name} must be between {spec.low:g} and {spec.high:g}, got {value!r}")
    return spec.kind(value)


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
