"""End to end: the three DAGs really run with ``airflow dags test`` against a real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import psycopg
import pytest

from tests.dags.conftest import AirflowRunner, airflow_env
from tests.dags.helpers import OUTLETS
from tests.helpers import partitions

pytestmark = pytest.mark.airflow

T0 = "2026-11-20T12:00:00+00:00"  # owns [11:59, 12:00)
T1 = "2026-11-20T12:01:00+00:00"  # owns [12:00, 12:01)
OLD = "2026-10-01T12:00:00+00:00"  # 50 days before T0: beyond the 30-day retention
# The asset events in the Airflow metadata database of the runs' home, per (asset, DAG, task).
EVENTS_PROBE = """
import json
from sqlalchemy import func, select
from airflow.models.asset import AssetEvent, AssetModel
from airflow.utils.session import create_session
with create_session() as session:
    rows = session.execute(
        select(AssetModel.name, AssetEvent.source_dag_id, AssetEvent.source_task_id, func.count())
        .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        .group_by(AssetModel.name, AssetEvent.source_dag_id, AssetEvent.source_task_id)
    ).all()
print(json.dumps([list(row) for row in rows]))
"""


def ok(result) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def rows(conn: psycopg.Connection, where: str = "TRUE") -> list[tuple]:
    return conn.execute(f'SELECT * FROM banking_data WHERE {where} ORDER BY "timestamp", uniq_id').fetchall()


@pytest.fixture(scope="module")
def schema_only(pg, airflow_home) -> AirflowRunner:
    """One database that banking_schema has set up, shared by tests that must not write to it."""
    dbname = pg.create_database("banking_dag")
    runner = AirflowRunner(airflow_home, pg.uri(dbname), dbname, pg)
    ok(runner.dags_test("banking_schema", T0))
    return runner


def test_schema_then_transactions_then_retention(airflow_runner: AirflowRunner) -> None:
    ok(airflow_runner.dags_test("banking_schema", T0))
    with airflow_runner.connect() as conn:
        assert conn.execute("SELECT count(*) FROM banking_schema_migrations").fetchone()[0] >= 5
        assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == 300
        # Partitions from the day before the run's interval end to a week ahead.
        assert "banking_data_p20261127" in partitions(conn)

        ok(airflow_runner.dags_test("banking_transactions", T0))
        first = rows(conn)
        assert first, "the first window loaded no rows"
        assert {(r[19].isoformat(), r[20].isoformat()) for r in first} == {
            ("2026-11-20T11:59:00+00:00", "2026-11-20T12:00:00+00:00")
        }

        ok(airflow_runner.dags_test("banking_transactions", T0))
        assert rows(conn) == first, "running the same window again changed its rows"
        assert conn.execute("SELECT count(*), max(loads) FROM banking_batches").fetchone() == (1, 2)

        ok(airflow_runner.dags_test("banking_transactions", T1))
        assert rows(conn, "window_start < '2026-11-20T12:00:00+00:00'") == first
        second = rows(conn, "window_start = '2026-11-20T12:00:00+00:00'")
        assert second and not {r[1] for r in second} & {r[1] for r in first}
        audit = conn.execute("SELECT sum(rows), count(*) FROM banking_batches").fetchone()
        assert audit == (len(first) + len(second), 2)
        assert conn.execute("SELECT count(*) FROM banking_staging").fetchone()[0] == 0

        ok(airflow_runner.dags_test("banking_transactions", OLD))
        assert "banking_data_p20261001" in partitions(conn)
        before = partitions(conn)

        ok(airflow_runner.dags_test("banking_retention", T0, json.dumps({"dry_run": True})))
        assert partitions(conn) == before

        ok(airflow_runner.dags_test("banking_retention", T0))
        after = partitions(conn)
        assert set(before) - set(after) == {"banking_data_p20261001"}
        assert rows(conn) == first + second, "retention touched rows inside the retention period"
        assert conn.execute("SELECT count(*) FROM banking_batches").fetchone()[0] == 2
        rollup_windows = conn.execute("SELECT DISTINCT window_start FROM banking_minute_stats").fetchall()
        assert sorted(w.isoformat() for (w,) in rollup_windows) == [
            "2026-11-20T11:59:00+00:00",
            "2026-11-20T12:00:00+00:00",
        ]


def asset_events(runner: AirflowRunner) -> Counter[tuple[str, str, str]]:
    result = subprocess.run(
        [sys.executable, "-c", EVENTS_PROBE],
        env=airflow_env(runner.home, None),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    return Counter({(name, dag_id, task_id): count for name, dag_id, task_id, count in rows})


def test_runs_record_an_asset_event_for_each_table_they_write(airflow_runner: AirflowRunner) -> None:
    """What the Assets view shows: each successful task adds one event to each of its outlets."""
    before = asset_events(airflow_runner)
    ok(airflow_runner.dags_test("banking_schema", T0))
    ok(airflow_runner.dags_test("banking_transactions", T0))
    added = asset_events(airflow_runner) - before
    expected = {
        (name, dag_id, task_id): 1
        for dag_id in ("banking_schema", "banking_transactions")
        for task_id, names in OUTLETS[dag_id].items()
        for name in names
    }
    assert len(expected) == 6 + 10 + 1 + 10 and added == Counter(expected)


def test_manual_run_with_a_longer_window(airflow_runner: AirflowRunner) -> None:
    ok(airflow_runner.dags_test("banking_schema", T0))
    conf = {"window_minutes": 5, "rate_per_minute": 200, "fraud_rate": 0.1}
    ok(airflow_runner.dags_test("banking_transactions", T0, json.dumps(conf)))
    with airflow_runner.connect() as conn:
        bounds = conn.execute("SELECT min(window_start), max(window_end) FROM banking_data").fetchone()
        assert [b.isoformat() for b in bounds] == ["2026-11-20T11:55:00+00:00", "2026-11-20T12:00:00+00:00"]
        audit = conn.execute("SELECT count(*), sum(rows) FROM banking_batches").fetchone()
        assert audit[0] == 5 and audit[1] == conn.execute("SELECT count(*) FROM banking_data").fetchone()[0]
        n, fraud = conn.execute("SELECT count(*), count(fraud_scenario) FROM banking_data").fetchone()
        assert 500 < n < 2000 and fraud > 0


@pytest.mark.parametrize(
    "conf",
    [
        {"rate_per_minute": -1},
        {"rate_per_minute": "100; DROP TABLE banking_data"},
        {"fraud_rate": 2},
        {"window_minutes": 0},
        {"window_minutes": 10**9},
        {"bogus": 1},
        {"window_minutes": 1440, "rate_per_minute": 100000},
    ],
    ids=[
        "negative",
        "sql-text",
        "fraud-over-half",
        "zero-window",
        "huge-window",
        "unknown-key",
        "too-many-rows",
    ],
)
def test_bad_params_are_refused_and_nothing_is_written(schema_only: AirflowRunner, conf: dict) -> None:
    result = schema_only.dags_test("banking_transactions", T0, json.dumps(conf))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ParamValidationError" in output or "ParamsError" in output, output[-2000:]
    assert "up_for_retry" not in output, "a bad param must fail the run at once, not be retried"
    with schema_only.connect() as conn:
        assert conn.execute("SELECT count(*) FROM banking_data").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM banking_batches").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM banking_staging").fetchone()[0] == 0
