"""
### Banking retention

Drops the daily partitions of `banking_data` that ended more than `retention_days` before the end
of this run's data interval, with the audit rows of those windows, and staged windows that no load
picked up within a day. The current and future days are never dropped, whatever the params say.
With `dry_run` it only lists what it would drop.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task


@dag(
    dag_id="banking_retention",
    schedule=CronDataIntervalTimetable("30 1 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "banking", "retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["banking", "maintenance"],
    doc_md=__doc__,
    params={
        "retention_days": Param(30, type="integer", minimum=1, maximum=3650, title="Retention (days)"),
        "dry_run": Param(False, type="boolean", title="Dry run"),
    },
)
def banking_retention() -> None:
    @task(multiple_outputs=False)
    def drop_old_data(
        params: dict[str, Any] | None = None,
        data_interval_end: pendulum.DateTime | None = None,
        dag_run: Any = None,
    ) -> dict[str, Any]:
        from banking import tasks

        reference = data_interval_end or dag_run.run_after
        with tasks.fail_fast():
            return tasks.apply_retention(reference, params["retention_days"], params["dry_run"])

    drop_old_data()


banking_retention()
