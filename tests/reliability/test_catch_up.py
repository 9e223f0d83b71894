"""After downtime, the first scheduled run loads every missed minute once; other runs own their window."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from banking import tasks
from banking.stream.settings import SettingsError
from tests.helpers import DAY
from tests.reliability.helpers import MINUTE, BankingDb, params, window_of

NOON = DAY.replace(hour=12)


def scheduled(start: datetime, run_type: str | None = tasks.SCHEDULED, **overrides) -> dict:
    """generate -> score -> load of the run whose data interval is the minute at ``start``."""
    manifest = tasks.generate(params(**overrides), start, start + MINUTE, None, run_type)
    tasks.score(manifest)
    tasks.load(manifest, f"{run_type}__{start.isoformat()}")
    return manifest


def audit_minutes(env: BankingDb) -> list[tuple[datetime, int]]:
    return env.conn.execute("SELECT window_start, loads FROM banking_batches ORDER BY 1").fetchall()


def test_the_first_scheduled_run_after_downtime_loads_what_was_missed(
    banking_env: BankingDb, task_log: list[logging.LogRecord]
) -> None:
    for i in range(3):
        scheduled(NOON + i * MINUTE)
    assert not [r for r in task_log if "catching up" in r.getMessage()]
    manifest = scheduled(NOON + 9 * MINUTE)  # the scheduler was away for six minutes
    assert window_of(manifest).start == NOON + 3 * MINUTE
    assert [r.getMessage() for r in task_log if "catching up" in r.getMessage()] == [
        f"catching up 6 missed minute(s): loading [{(NOON + 3 * MINUTE).isoformat()}, "
        f"{(NOON + 10 * MINUTE).isoformat()})"
    ]
    assert audit_minutes(banking_env) == [(NOON + i * MINUTE, 1) for i in range(10)]
    rows = banking_env.conn.execute("SELECT count(*), count(DISTINCT uniq_id) FROM banking_data").fetchone()
    total = banking_env.conn.execute("SELECT sum(rows) FROM banking_batches").fetchone()[0]
    assert rows[0] == rows[1] == total > 0


@pytest.mark.parametrize("run_type", ["manual", "backfill", None])
def test_other_runs_own_exactly_their_window(banking_env: BankingDb, run_type: str | None) -> None:
    scheduled(NOON)
    manifest = scheduled(NOON + 9 * MINUTE, run_type)
    assert window_of(manifest).start == NOON + 9 * MINUTE
    assert [m for m, _ in audit_minutes(banking_env)] == [NOON, NOON + 9 * MINUTE]


def test_a_catch_up_beyond_the_bound_is_refused_with_the_backfill_command(
    banking_env: BankingDb, monkeypatch: pytest.MonkeyPatch, task_log: list[logging.LogRecord]
) -> None:
    monkeypatch.setenv(tasks.CATCH_UP_HOURS_ENV, "0.1")  # six minutes
    scheduled(NOON)
    manifest = scheduled(NOON + 20 * MINUTE)
    assert window_of(manifest).start == NOON + 14 * MINUTE
    skipped = [r for r in task_log if r.levelno == logging.ERROR]
    assert len(skipped) == 1
    message = skipped[0].getMessage()
    assert (
        "BANKING_CATCH_UP_HOURS=0.1" in message and "backfill create --dag-id banking_transactions" in message
    )
    assert (
        f"--from-date {(NOON + MINUTE).isoformat()} --to-date {(NOON + 14 * MINUTE).isoformat()}" in message
    )


def test_a_bad_catch_up_bound_fails_clearly(banking_env: BankingDb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tasks.CATCH_UP_HOURS_ENV, "a day")
    with pytest.raises(SettingsError, match="BANKING_CATCH_UP_HOURS: expected a number from 0 to"):
        scheduled(NOON)
    assert audit_minutes(banking_env) == []


def test_a_catch_up_bound_of_zero_turns_catching_up_off(
    banking_env: BankingDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tasks.CATCH_UP_HOURS_ENV, "0")
    scheduled(NOON)
    assert window_of(scheduled(NOON + 5 * MINUTE)).start == NOON + 5 * MINUTE
