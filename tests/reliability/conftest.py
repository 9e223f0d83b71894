"""Fixtures for the reliability tests: the DAG's task functions in process, against a real database.

``banking.tasks`` reaches the database through Airflow's ``banking_db`` connection, so the tests set
``AIRFLOW_CONN_BANKING_DB`` (and the ``BANKING_*`` settings of the small test population) with
``monkeypatch``, exactly as a worker's environment would; the helpers are in tests/reliability/helpers.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.pg import TestServer
from tests.reliability.helpers import CONN_ENV, BankingDb, set_settings_env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private AIRFLOW_HOME for Airflow imported in this process (the hook reads connections from env)."""
    return tmp_path_factory.mktemp("reliability-airflow-home")


@pytest.fixture
def banking_env(
    monkeypatch: pytest.MonkeyPatch,
    pg: TestServer,
    empty_db: tuple[str, psycopg.Connection],
    db: psycopg.Connection,
    airflow_home: Path,
) -> BankingDb:
    """The ``db`` fixture's database as Airflow connection ``banking_db``, with the SMALL settings."""
    name, _ = empty_db
    monkeypatch.setenv("AIRFLOW_HOME", str(airflow_home))
    set_settings_env(monkeypatch)
    monkeypatch.setenv(CONN_ENV, pg.uri(name))
    return BankingDb(name, db, pg.uri(name), pg.conninfo(name))


@pytest.fixture
def task_log() -> Iterator[list[logging.LogRecord]]:
    """What the task functions log (Airflow's logging set-up may keep it from pytest's caplog)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("banking.tasks")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)
