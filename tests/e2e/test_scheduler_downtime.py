"""The scheduler stopped and started again: the first scheduled run after it loads every missed minute.

A stack of its own (``scripts/downtime.py``), since the shared one does not let the scheduler create
scheduled runs. ``make downtime`` runs the same with five minutes of downtime.
"""

from __future__ import annotations

import os

import pytest
from scripts import downtime
from scripts.e2e_stack import Stack

pytestmark = pytest.mark.e2e


def test_every_minute_missed_while_the_scheduler_was_down_is_loaded_once_in_order() -> None:
    with Stack(
        workers=1,
        concurrency=2,
        schedule=True,
        banking_env=downtime.SMALL_POPULATION,
        dsn=os.environ.get("BANKING_E2E_DSN") or os.environ.get("BANKING_TEST_DSN"),
        redis_url=os.environ.get("BANKING_E2E_REDIS_URL"),
    ) as stack:
        stack.run_dag("banking_schema", timeout=240)
        figures = downtime.downtime(stack, down_seconds=150)
    assert downtime.problems(figures) == [], figures
    assert figures["missed_minutes_caught_up"] >= 2
    assert figures["catch_up_runs"].startswith("scheduled__")
