"""Least privilege: the dashboard's role reads and nothing else; the writer cannot do DDL."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from banking import pipeline
from banking.model import Window
from banking.store import schema
from tests.helpers import DAY, SMALL

WINDOW = Window(DAY.replace(hour=9), DAY.replace(hour=9) + timedelta(minutes=1))

READER_REFUSED = [
    "INSERT INTO banking_data SELECT * FROM banking_data LIMIT 1",
    "UPDATE banking_data SET decision = 'Approved'",
    "DELETE FROM banking_data",
    "TRUNCATE banking_data",
    "UPDATE banking_batches SET rows = 0",
    "INSERT INTO blacklist SELECT account_id, 'x', current_date FROM accounts LIMIT 1",
    "CREATE TABLE sneaky (id int)",
    "DROP TABLE banking_data",
    "ALTER TABLE banking_data ADD COLUMN x int",
    "SELECT banking_ensure_partitions(now(), now() + interval '1 day')",
    "SELECT banking_drop_partitions_before(current_date)",
    "CREATE ROLE intruder",
]
WRITER_REFUSED = [
    "DROP TABLE banking_data",
    "DROP TABLE banking_batches",
    "TRUNCATE banking_data",
    "ALTER TABLE banking_data DROP COLUMN decision",
    "CREATE TABLE sneaky (id int)",
    "CREATE ROLE intruder",
    "DELETE FROM accounts",
    "GRANT banking_writer TO banking_reader",
]


@pytest.fixture
def loaded(db: psycopg.Connection, rule_set) -> psycopg.Connection:
    pipeline.run_window(db, SMALL, rule_set, WINDOW)
    return db


@pytest.mark.parametrize("statement", READER_REFUSED)
def test_reader_is_refused(loaded: psycopg.Connection, statement: str) -> None:
    loaded.execute("SET ROLE banking_reader")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        loaded.execute(statement)


def test_reader_can_read(loaded: psycopg.Connection) -> None:
    loaded.execute("SET ROLE banking_reader")
    for table in ("banking_data", "banking_batches", "accounts", "cards", "merchants", "blacklist"):
        assert loaded.execute(f"SELECT count(*) FROM {table}").fetchone()[0] > 0


@pytest.mark.parametrize("statement", WRITER_REFUSED)
def test_writer_cannot_do_ddl(loaded: psycopg.Connection, statement: str) -> None:
    loaded.execute("SET ROLE banking_writer")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        loaded.execute(statement)


def test_writer_can_run_the_pipeline(pg, db: psycopg.Connection, rule_set) -> None:
    """The pipeline works end to end as a login role that only has banking_writer."""
    schema.ensure_login_roles(db, {"BANKING_PIPELINE_PASSWORD": "test-only-secret"})
    db.execute("SET ROLE banking_pipeline")
    assert db.execute("SELECT current_user").fetchone()[0] == "banking_pipeline"
    report = pipeline.run_window(db, SMALL, rule_set, WINDOW)
    again = pipeline.run_window(db, SMALL, rule_set, WINDOW)
    assert report.load.inserted == again.load.deleted == again.load.inserted > 0
    super_ = db.execute(
        "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert super_ == (False, False)
