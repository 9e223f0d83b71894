"""The ``@dag`` arguments the maintenance DAGs share, light at parse time (pendulum only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum

FIRST_DAY = pendulum.datetime(2026, 1, 1, tz="UTC")


def maintenance(retry_delay: timedelta) -> dict[str, Any]:
    """A maintenance DAG's runs: from ``FIRST_DAY`` without Airflow's catch-up, one at a time, two
    retries ``retry_delay`` apart, tagged maintenance (its schedule stays in the DAG file)."""
    return {
        "start_date": FIRST_DAY,
        "catchup": False,
        "max_active_runs": 1,
        "default_args": {"owner": "banking", "retries": 2, "retry_delay": retry_delay},
        "tags": ["banking", "maintenance"],
    }
