"""Shared test data: the project's root, the small generator settings and the day most tests load."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from banking.stream.settings import GeneratorSettings

ROOT = Path(__file__).resolve().parents[1]

# A small population keeps the tests fast; the shape of the data is the same as the default.
SMALL = GeneratorSettings(seed=7, n_accounts=300, n_merchants=120, rate_per_minute=60.0, fraud_rate=0.05)
DAY = datetime(2026, 11, 2, tzinfo=timezone.utc)
