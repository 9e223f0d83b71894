"""A real ``airflow backfill create`` of banking_transactions gives the rows of its windows run one by one.

The backfill is executed the way it is in production: ``airflow scheduler`` (LocalExecutor) runs
the backfill's DAG runs, and its task workers talk to ``airflow api-server`` (the Execution API),
all against a private AIRFLOW_HOME and a PostgreSQL metadata database (SQLite's one writer at a time
makes the CLI's backfill and the scheduler wait on each other). The windows are also run one by one in process, in another
database, one of them twice; both databases must hold the same rows.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from scripts.e2e_stack import sqlalchemy_url

from banking import pipeline
from banking.model import Window
from banking.rules.rule_set import RuleSet
from banking.store import schema
from tests.dags.conftest import AIRFLOW, airflow_env
from tests.helpers import SMALL
from tests.pg import TestServer

pytestmark = pytest.mark.airflow

# The trigger conf that makes the DAG's settings equal SMALL (its population is airflow_env's).
CONF = {"rate_per_minute": SMALL.rate_per_minute, "fraud_rate": SMALL.fraud_rate}
ROWS = 'SELECT * FROM banking_data ORDER BY "timestamp", uniq_id'
BATCHES = (
    "SELECT window_start, window_end, rows, approved, review, rejected, injected_fraud, amount, "
    "rule_set_version, settings_digest, population_version FROM banking_batches ORDER BY 1, 2"
)
ROLLUPS = (
    "SELECT * FROM banking_minute_stats ORDER BY 1, 2, 3, 4, 5, 6",
    "SELECT * FROM banking_minute_rule_hits ORDER BY 1, 2, 3, 4, 5, 6",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else f"({path} is missing)"


@contextmanager
def airflow_cluster(home: Path, conn_uri: str, meta_url: str) -> Iterator[dict[str, str]]:
    """A scheduler and an api-server on ``home`` with the metadata database at ``meta_url``; yields
    the environment for CLI calls."""
    port = _free_port()
    env = airflow_env(home, conn_uri) | {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",  # paused DAGs' tasks never run
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # only the backfill's runs, no scheduled ones
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=120)
    procs: list[subprocess.Popen] = []
    try:
        for name in ("api-server", "scheduler"):
            with (home / f"{name}.log").open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [AIRFLOW, name], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        # The scheduler does not parse DAG files: store the serialized DAGs for it (and the CLI).
        subprocess.run(
            [AIRFLOW, "dags", "reserialize"], env=env, check=True, capture_output=True, timeout=120
        )
        health = f"http://127.0.0.1:{port}/api/v2/monitor/health"
        deadline = time.monotonic() + 60
        while True:
            assert procs[0].poll() is None, _tail(home / "api-server.log")
            try:
                with urllib.request.urlopen(health, timeout=2):  # noqa: S310 - a local URL
                    break
            except OSError:
                assert time.monotonic() < deadline, "api-server did not start\n" + _tail(
                    home / "api-server.log"
                )
                time.sleep(0.5)
        yield env
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the group this test started
                proc.wait(timeout=10)


def backfill_states(pg: TestServer, meta_db: str) -> list[tuple[str, str]]:
    """(logical date, state) of the backfill's DAG runs, from the metadata database."""
    with pg.connect(meta_db) as meta:
        return meta.execute(
            "SELECT logical_date, state FROM dag_run WHERE dag_id = 'banking_transactions' "
            "AND run_type = 'backfill' ORDER BY logical_date"
        ).fetchall()


def test_a_backfill_equals_its_windows_run_one_by_one(
    pg: TestServer, db: psycopg.Connection, rule_set: RuleSet, tmp_path: Path
) -> None:
    start = (datetime.now(timezone.utc) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    windows = [Window(start + timedelta(minutes=i), start + timedelta(minutes=i + 1)) for i in range(3)]

    # One by one, in process; the middle window twice (a rerun changes nothing).
    for window in [*windows, windows[1]]:
        pipeline.run_window(db, SMALL, rule_set, window)

    dbname = pg.create_database("banking_backfill")
    with pg.connect(dbname) as conn:
        schema.apply_migrations(conn)
        schema.seed_population(conn, SMALL)
    home = tmp_path / "airflow-home"
    home.mkdir()
    meta_db = pg.create_database("airflow_backfill_meta")
    meta_url = sqlalchemy_url(pg.admin, meta_db, "postgresql+psycopg2")
    with airflow_cluster(home, pg.uri(dbname), meta_url) as env:
        # A backfill's logical dates are its windows' starts: --from-date/--to-date are inclusive.
        created = subprocess.run(
            [AIRFLOW, "backfill", "create", "--dag-id", "banking_transactions"]
            + ["--from-date", windows[0].start.isoformat(), "--to-date", windows[-1].start.isoformat()]
            + ["--max-active-runs", "1", "--dag-run-conf", json.dumps(CONF)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert created.returncode == 0, created.stdout[-2000:] + created.stderr[-2000:]
        deadline = time.monotonic() + 150
        while True:
            states = backfill_states(pg, meta_db)
            if len(states) == len(windows) and all(s in ("success", "failed") for _, s in states):
                break
            assert time.monotonic() < deadline, f"backfill unfinished: {states}\n" + _tail(
                home / "scheduler.log"
            )
            time.sleep(1)
    assert [s for _, s in states] == ["success"] * len(windows), _tail(home / "scheduler.log", 6000)

    with pg.connect(dbname) as backfilled:
        loaded = backfilled.execute(ROWS).fetchall()
        assert loaded and loaded == db.execute(ROWS).fetchall()
        assert backfilled.execute(BATCHES).fetchall() == db.execute(BATCHES).fetchall()
        for query in ROLLUPS:
            assert backfilled.execute(query).fetchall() == db.execute(query).fetchall()
        runs = backfilled.execute(
            "SELECT window_start, run_id, loads FROM banking_batches ORDER BY 1"
        ).fetchall()
        assert [(w, r.split("__")[0], n) for w, r, n in runs] == [(w.start, "backfill", 1) for w in windows]
        assert backfilled.execute("SELECT count(*) FROM banking_staging").fetchone()[0] == 0
