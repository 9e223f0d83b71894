"""End to end: ``airflow dags test banking_backtest`` with a form's conf, against a real PostgreSQL."""

from __future__ import annotations

import json

import pytest

from banking.backtest import replay
from banking.rules.rule_set import RuleSet
from banking.store import schema
from tests.backtest.common import RANGE, counts, load_windows, params, snapshot, stricter_rules
from tests.dags.conftest import AirflowRunner
from tests.helpers import SMALL

pytestmark = pytest.mark.airflow

T0 = "2026-11-20T12:00:00+00:00"
T1 = "2026-11-20T12:01:00+00:00"
RESULTS = 'SELECT "timestamp", uniq_id, decision, risk_score, rules_triggered, rules_explanation, rule_hits FROM banking_backtest_results WHERE backtest_id = %s ORDER BY 1, 2'


def test_the_backtest_dag_refuses_bad_input_then_runs(
    airflow_runner: AirflowRunner, rule_set: RuleSet
) -> None:
    with airflow_runner.connect() as conn:
        schema.apply_migrations(conn)
        schema.seed_population(conn, SMALL)
        load_windows(conn, rule_set)
        before = snapshot(conn)

    reversed_range = {**params("dag-run"), "start": RANGE.end.isoformat(), "end": RANGE.start.isoformat()}
    result = airflow_runner.dags_test("banking_backtest", T0, json.dumps(reversed_range))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "BacktestInputError" in output and "empty or reversed" in output, output[-2000:]
    assert "up_for_retry" not in output, "bad input must fail the run at once, not be retried"
    with airflow_runner.connect() as conn:
        assert counts(conn) == dict.fromkeys(counts(conn), 0)

    conf = {**params("dag-run"), "rules_file": None, "rules_json": stricter_rules(40)}
    result = airflow_runner.dags_test("banking_backtest", T1, json.dumps(conf))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "chunk 1/3" in output and "decisions changed" in output and "candidate:" in output

    with airflow_runner.connect() as conn:
        assert snapshot(conn) == before
        status, rows, run_id = conn.execute(
            "SELECT status, rows, run_id FROM banking_backtest_runs WHERE backtest_id = 'dag-run'"
        ).fetchone()
        assert status == "succeeded" and rows > 0 and run_id.startswith("manual__")
        # The DAG stores what the same backtest gives in process.
        replay.run_on(conn, {**conf, "backtest_id": "in-process"})
        dag_rows = conn.execute(RESULTS, ("dag-run",)).fetchall()
        assert len(dag_rows) == rows
        assert dag_rows == conn.execute(RESULTS, ("in-process",)).fetchall()
