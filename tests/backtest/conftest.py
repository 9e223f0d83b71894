"""Fixtures of the backtest tests; the Airflow ones come from tests/dags."""

from __future__ import annotations

import psycopg
import pytest

from banking.rules.rule_set import RuleSet
from tests.backtest.common import load_windows
from tests.dags.conftest import airflow_home, airflow_runner  # noqa: F401 - fixtures used here too


@pytest.fixture
def loaded(db: psycopg.Connection, rule_set: RuleSet) -> psycopg.Connection:
    """A database holding the windows of tests.backtest.common, loaded in window order."""
    load_windows(db, rule_set)
    return db
