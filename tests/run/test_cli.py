"""The README's CLI lines, run verbatim against a throw-away project home: ``./airflow`` and ``make airflow``
see make run's environment (its home, this checkout's DAGs, the banking connection, no example DAGs)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from scripts import embedded_postgres
from scripts.airflow_env import ROOT

from tests.run.project import project_env

pytestmark = pytest.mark.airflow

# The README's lines (the backfill with a short range), exactly as a user types them.
DAGS_TEST = (
    """./airflow dags test banking_transactions 2026-11-20T12:00:00+00:00 --conf '{"fraud_rate": 0.1}'"""
)
MAKE_DAGS_TEST = """make airflow ARGS="dags test banking_transactions 2026-11-20T12:01:00+00:00 --conf '{\\"fraud_rate\\": 0.1}'\""""
BACKFILL = (
    "./airflow backfill create --dag-id banking_transactions "
    "--from-date 2026-11-20T13:00:00+00:00 --to-date 2026-11-20T13:02:00+00:00 --max-active-runs 1"
)


def test_the_lines_are_the_readmes() -> None:
    readme = (ROOT / "README.md").read_text()
    for line in (DAGS_TEST, MAKE_DAGS_TEST, BACKFILL):
        assert f"\n{line}\n" in readme, line


def shell(line: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(line, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("project")
    return tmp, project_env(tmp)


def batches(tmp: Path) -> list[tuple]:
    server, admin = embedded_postgres.start(tmp / "data" / "postgres")
    try:
        with psycopg.connect(make_conninfo(**{**admin, "dbname": "banking"})) as conn:
            return conn.execute(
                "SELECT window_start::text, window_end::text, rows > 0 FROM banking_batches ORDER BY 1"
            ).fetchall()
    finally:
        server.cleanup()


def test_dags_test_lines_load_their_windows_into_the_embedded_database(project) -> None:
    tmp, env = project
    shell(DAGS_TEST, env)
    shell(MAKE_DAGS_TEST, env)
    assert batches(tmp) == [
        ("2026-11-20 11:59:00+00", "2026-11-20 12:00:00+00", True),
        ("2026-11-20 12:00:00+00", "2026-11-20 12:01:00+00", True),
    ]


def test_the_cli_sees_only_this_checkouts_dags_in_its_home(project) -> None:
    tmp, env = project
    listed = shell("./airflow dags list --output plain", env).stdout
    assert {"banking_transactions", "banking_schema", "banking_retention"} <= set(listed.split())
    assert "example_" not in listed
    assert not (tmp / "airflow-home" / "dags").exists()
    assert (tmp / "airflow-home" / "airflow.db").exists()


def test_backfill_line_creates_one_run_per_window(project) -> None:
    tmp, env = project
    shell(BACKFILL, env)
    with sqlite3.connect(tmp / "airflow-home" / "airflow.db") as meta:
        runs = meta.execute(
            "SELECT logical_date FROM dag_run WHERE dag_id = 'banking_transactions' AND run_type = 'backfill' "
            "ORDER BY logical_date"
        ).fetchall()
    assert [r[0][:16] for r in runs] == ["2026-11-20 13:00", "2026-11-20 13:01", "2026-11-20 13:02"]
