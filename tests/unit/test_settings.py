"""Settings: validated once, with messages that name the field."""

from __future__ import annotations

import pytest

from banking.stream.settings import GeneratorSettings, SettingsError, from_env


def test_defaults_and_env_overrides() -> None:
    settings = from_env({"BANKING_RATE_PER_MINUTE": "120", "BANKING_SEED": "9"})
    assert settings.rate_per_minute == 120.0 and settings.seed == 9
    assert settings.population_version != GeneratorSettings().population_version
    assert from_env({}) == GeneratorSettings()


def test_population_version_ignores_stream_settings() -> None:
    a = GeneratorSettings()
    b = a.with_overrides({"rate_per_minute": 5, "fraud_rate": 0.3})
    assert a.population_version == b.population_version
    assert a.digest != b.digest


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rate_per_minute": -1}, "rate_per_minute"),
        ({"rate_per_minute": "60"}, "rate_per_minute"),
        ({"rate_per_minute": float("nan")}, "rate_per_minute"),
        ({"fraud_rate": 0.9}, "fraud_rate"),
        ({"seed": 1.5}, "seed"),
        ({"seed": True}, "seed"),
        ({"n_accounts": 0}, "n_accounts"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_bad_values_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(SettingsError, match=field):
        GeneratorSettings().with_overrides(overrides)


def test_bad_environment_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="BANKING_RATE_PER_MINUTE"):
        from_env({"BANKING_RATE_PER_MINUTE": "fast"})
