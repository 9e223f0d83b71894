"""Idempotency: a window run again, or cleared and rerun, leaves the same rows and one audit row."""

from __future__ import annotations

from datetime import timedelta

import pytest

from banking import tasks
from tests.helpers import DAY
from tests.reliability.helpers import (
    BankingDb,
    audit_row,
    loads,
    params,
    reconcile,
    run_window,
    staged,
    window_of,
    window_rows,
)

NINE = DAY.replace(hour=9)
RUN_ID = "scheduled__2026-11-02T09:01:00+00:00"


def test_three_runs_and_a_clear_leave_identical_rows_and_one_audit_row(banking_env: BankingDb) -> None:
    """Run the window three times (a later window loaded in between), then clear score+load and rerun."""
    conn = banking_env.conn
    before = window_of(run_window(NINE))
    manifest = run_window(NINE + timedelta(minutes=1), RUN_ID)
    window = window_of(manifest)
    after = window_of(run_window(NINE + timedelta(minutes=2)))
    rows, audit = window_rows(conn, window), audit_row(conn, window)
    neighbours = window_rows(conn, before), window_rows(conn, after)
    assert rows and len(rows) == manifest["rows"] and audit[0][2] == len(rows)

    for run in (2, 3):  # the whole run again: generate, score, load
        again = run_window(window.start, RUN_ID)
        assert again == manifest, "generate must hand on the same manifest for the same window"
        assert window_rows(conn, window) == rows, f"run {run} changed the window's rows"
        assert audit_row(conn, window) == audit
        assert loads(conn, window) == [run]

    # Clear of a finished run's score and load: the manifest comes from generate's XCom.
    summary = tasks.score(manifest)
    assert summary["rows"] == len(rows) and staged(conn, window) == 1
    result = tasks.load(manifest, RUN_ID)
    assert result == {"window_start": window.start.isoformat(), "rows": len(rows), "replaced": len(rows)}

    assert window_rows(conn, window) == rows
    assert audit_row(conn, window) == audit and loads(conn, window) == [4]
    assert (window_rows(conn, before), window_rows(conn, after)) == neighbours
    check = reconcile(conn, [before, window, after])
    assert check.problems == [] and check.rows == len(rows) + len(neighbours[0]) + len(neighbours[1])


def test_a_load_with_nothing_staged_fails_at_once_and_changes_nothing(banking_env: BankingDb) -> None:
    """Clearing only the load of a finished run: a clear failure (no retries) and the window intact."""
    conn = banking_env.conn
    manifest = run_window(NINE, RUN_ID)
    window = window_of(manifest)
    rows, audit = window_rows(conn, window), audit_row(conn, window)
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(
        AirflowFailException, match=r"nothing is staged .*\(clear it and its downstream tasks"
    ):
        with tasks.fail_fast():
            tasks.load(manifest, "manual__only_the_load")
    assert window_rows(conn, window) == rows
    assert audit_row(conn, window) == audit and loads(conn, window) == [1]


def test_a_retried_load_after_its_commit_succeeds(banking_env: BankingDb) -> None:
    """Airflow retries a load whose commit it never heard of: the retry must succeed, changing nothing."""
    conn = banking_env.conn
    manifest = tasks.generate(params(), NINE, NINE + timedelta(minutes=1), None)
    tasks.score(manifest)
    first = tasks.load(manifest, RUN_ID)
    window = window_of(manifest)
    rows, audit = window_rows(conn, window), audit_row(conn, window)

    retry = tasks.load(manifest, RUN_ID)  # same run, same try's inputs

    assert retry["rows"] == first["rows"] == len(rows)
    assert window_rows(conn, window) == rows and audit_row(conn, window) == audit
