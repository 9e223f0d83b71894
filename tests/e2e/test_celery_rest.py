"""``banking_transactions`` triggered through the REST API runs on the Celery workers and loads its rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from scripts.e2e_stack import Stack

from banking.model import parse_datetime
from tests.e2e.helpers import SETTINGS

pytestmark = pytest.mark.e2e

DAG = "banking_transactions"
# With a logical date the run owns the minute before it: [11:59, 12:00), stretched to 3 minutes.
LOGICAL_DATE = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
CONF = {"window_minutes": 3, "rate_per_minute": 400, "fraud_rate": 0.1, "variant": 3}
WINDOW = (LOGICAL_DATE - timedelta(minutes=3), LOGICAL_DATE)


@pytest.fixture(scope="module")
def rest_run(celery_stack: Stack) -> dict[str, Any]:
    run_id = celery_stack.trigger(DAG, CONF, LOGICAL_DATE)
    return celery_stack.wait_run(DAG, run_id, timeout=240)


def test_the_run_succeeds_with_its_conf(rest_run: dict[str, Any]) -> None:
    assert rest_run["state"] == "success", rest_run
    assert rest_run["run_type"] == "manual"
    assert rest_run["conf"] == CONF
    assert parse_datetime(rest_run["data_interval_end"]) == LOGICAL_DATE


def test_the_rows_arrived(celery_stack: Stack, rest_run: dict[str, Any]) -> None:
    expected = SETTINGS.with_overrides({k: v for k, v in CONF.items() if k != "window_minutes"})
    with celery_stack.banking() as conn:
        # One audit row per minute of the window, all loaded by this run.
        batches = conn.execute(
            "SELECT min(window_start), max(window_end), sum(rows), sum(injected_fraud), "
            "array_agg(DISTINCT settings_digest), max(loads), count(*) "
            "FROM banking_batches WHERE run_id = %s",
            (rest_run["dag_run_id"],),
        ).fetchone()
        start, end, rows, injected, digests, loads, minutes = batches
        assert (start, end, minutes) == (*WINDOW, 3), batches
        [digest] = digests
        # The settings digest covers the population and the conf: the worker used exactly these.
        assert digest == expected.digest
        assert loads == 1
        # 400/min over 3 minutes, shaped by the time-of-day curve; 10% injected fraud.
        assert 200 <= rows <= 2400, rows
        assert 0 < injected < rows
        stored = conn.execute(
            'SELECT count(*), count(DISTINCT uniq_id), min("timestamp") >= %s, max("timestamp") < %s, '
            "count(*) FILTER (WHERE fraud_scenario IS NOT NULL) FROM banking_data "
            'WHERE "timestamp" >= %s AND "timestamp" < %s',
            (start, end, start, end),
        ).fetchone()
        assert stored == (rows, rows, True, True, injected)
        assert conn.execute("SELECT count(*) FROM banking_staging").fetchone()[0] == 0


def test_the_tasks_ran_on_the_celery_workers(celery_stack: Stack, rest_run: dict[str, Any]) -> None:
    assert celery_stack.api is not None
    run_id = rest_run["dag_run_id"]
    tis = celery_stack.api.task_instances(DAG, run_id)
    assert sorted(ti["task_id"] for ti in tis) == ["generate", "load", "score"]
    for ti in tis:
        assert ti["state"] == "success", ti
        # The stack's own queue: only its Celery workers consume it.
        assert ti["queue"] == celery_stack.queue
        assert ti["hostname"] and ti["pid"]
    celery_ids = celery_stack.celery_results(DAG, run_id)
    assert len(celery_ids) == 3
    workers_used = set()
    for task_id, celery_id, status in celery_ids:
        # The Celery result backend (Airflow's metadata database) has each task's result.
        assert celery_id and status == "SUCCESS", (task_id, celery_id, status)
        ran_on = [
            n
            for n in range(1, celery_stack.workers + 1)
            if f"execute_workload[{celery_id}] succeeded" in celery_stack.worker_log(n)
        ]
        assert len(ran_on) == 1, f"{task_id} ({celery_id}) ran on workers {ran_on}"
        assert f"execute_workload[{celery_id}] received" in celery_stack.worker_log(ran_on[0])
        workers_used |= set(ran_on)
    print(f"tasks of {run_id} ran on worker(s) {sorted(workers_used)}")


def test_the_task_logs_are_served(celery_stack: Stack, rest_run: dict[str, Any]) -> None:
    assert celery_stack.api is not None
    response = celery_stack.api.request(
        "GET",
        f"/dags/{DAG}/dagRuns/{rest_run['dag_run_id']}/taskInstances/load/logs/1",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert "loaded" in response.text and "rows in" in response.text


def test_bad_params_are_refused_before_a_run_exists(celery_stack: Stack) -> None:
    assert celery_stack.api is not None
    before = celery_stack.api.get(f"/dags/{DAG}/dagRuns")["total_entries"]
    response = celery_stack.api.trigger(DAG, {"fraud_rate": 0.9}, LOGICAL_DATE + timedelta(minutes=10))
    assert response.status_code == 400, response.text
    assert "fraud_rate" in response.text
    assert celery_stack.api.get(f"/dags/{DAG}/dagRuns")["total_entries"] == before


def test_the_rest_api_needs_a_valid_login(celery_stack: Stack) -> None:
    with httpx.Client(base_url=celery_stack.base_url, timeout=30) as client:
        assert client.get("/api/v2/dags").status_code == 401
        wrong = {"username": "admin", "password": celery_stack.password + "x"}
        bad = client.post("/auth/token", json=wrong)
        assert bad.status_code == 401
        forged = client.get("/api/v2/dags", headers={"Authorization": "Bearer not.a.token"})
        assert forged.status_code in (401, 403)


def test_an_unknown_conf_key_is_refused_by_the_api(celery_stack: Stack) -> None:
    """The api-server's plugin middleware (plugins/banking_trigger_guard.py) answers 400 before Airflow
    creates a run; a misspelled key never reaches the generate task."""
    assert celery_stack.api is not None
    before = celery_stack.api.get(f"/dags/{DAG}/dagRuns")["total_entries"]
    response = celery_stack.api.trigger(DAG, {"window_minute": 5}, LOGICAL_DATE + timedelta(hours=1))
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == (
        "unknown conf key(s) for banking_transactions: window_minute; "
        "allowed: window_minutes, rate_per_minute, fraud_rate, variant"
    )
    assert celery_stack.api.get(f"/dags/{DAG}/dagRuns")["total_entries"] == before
