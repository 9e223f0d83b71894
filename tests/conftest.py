"""Shared fixtures: a real PostgreSQL server, fresh databases (shared data lives in tests/helpers.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

from banking.rules import config
from banking.rules.rule_set import RuleSet
from banking.store import schema
from tests.helpers import SMALL
from tests.pg import TestServer

os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture(scope="session")
def pg() -> Iterator[TestServer]:
    server = TestServer()
    yield server
    server.close()


@pytest.fixture
def empty_db(pg: TestServer) -> Iterator[tuple[str, psycopg.Connection]]:
    """A new, empty database and an autocommit connection to it as the server's admin."""
    name = pg.create_database()
    with pg.connect(name) as conn:
        yield name, conn


@pytest.fixture
def db(empty_db: tuple[str, psycopg.Connection]) -> psycopg.Connection:
    """A new database with the migrations applied and the SMALL population seeded."""
    _, conn = empty_db
    schema.apply_migrations(conn)
    schema.seed_population(conn, SMALL)
    return conn


@pytest.fixture(scope="session")
def rule_set() -> RuleSet:
    return config.load_rules()


def pytest_terminal_summary(terminalreporter) -> None:
    """Print what the DAG integrity test measured: the parse time of each DAG file."""
    from tests.dags.conftest import PARSE_TIMES

    if PARSE_TIMES:
        terminalreporter.section("DAG file parse times")
        for name, seconds in sorted(PARSE_TIMES.items()):
            terminalreporter.write_line(f"dag_parse_seconds[{name}]: {seconds:.3f}")
