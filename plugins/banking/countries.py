"""Reference data for the countries the synthetic population lives and pays in."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    currency: str  # ISO 4217
    units_per_usd: float  # a fixed reference rate: amount_crr = amount * units_per_usd
    timezone: str
    faker_locale: str
    weight: float  # share of the population that lives here

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)


_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    zone = _ZONES.get(name)
    if zone is None:
        zone = _ZONES[name] = ZoneInfo(name)
    return zone


COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country("US", "USD", 1.0, "America/New_York", "en_US", 0.40),
        Country("GB", "GBP", 0.79, "Europe/London", "en_GB", 0.12),
        Country("DE", "EUR", 0.92, "Europe/Berlin", "de_DE", 0.10),
        Country("FR", "EUR", 0.92, "Europe/Paris", "fr_FR", 0.08),
        Country("ES", "EUR", 0.92, "Europe/Madrid", "es_ES", 0.05),
        Country("IT", "EUR", 0.92, "Europe/Rome", "it_IT", 0.05),
        Country("CA", "CAD", 1.36, "America/Toronto", "en_CA", 0.07),
        Country("AU", "AUD", 1.52, "Australia/Sydney", "en_AU", 0.05),
        Country("IN", "INR", 83.0, "Asia/Kolkata", "en_IN", 0.04),
        Country("BR", "BRL", 5.0, "America/Sao_Paulo", "pt_BR", 0.04),
    )
}


def country(code: str) -> Country:
    try:
        return COUNTRIES[code]
    except KeyError:
        raise KeyError(f"unknown country code {code!r}; known: {', '.join(COUNTRIES)}") from None
