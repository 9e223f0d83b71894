"""
### Banking schema: migrations, roles, population, partitions

Applies the ordered migrations of `include/sql/migrations` (each once, recorded with its checksum
in `banking_schema_migrations`), creates the login roles whose passwords are set
(`BANKING_PIPELINE_PASSWORD`, `BANKING_DASHBOARD_PASSWORD`), seeds the synthetic population
(accounts, cards, merchants, blacklist) for the `BANKING_*` settings, and creates the daily
partitions of `banking_data` from yesterday to `days_ahead` days ahead. Idempotent: run it as often
as you like; it runs daily to keep partitions ahead of the stream.

Then **warm_start**: on a new database, it loads the `BANKING_WARM_START_DAYS` (7; 0 = off) of
history before the run, in one-day windows at the configured rate, so that the history rules and
every dashboard panel work from the first minute. It resumes where it stopped, and leaves a database
with older data alone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

# Light at parse time: these modules import only airflow.sdk and pendulum.
from banking import assets
from banking.dag_args import maintenance


@dag(
    dag_id="banking_schema",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    **maintenance(retry_delay=timedelta(seconds=15)),
    doc_md=__doc__,
    params={
        "days_ahead": Param(7, type="integer", minimum=0, maximum=366, title="Partitions ahead (days)"),
    },
)
def banking_schema() -> None:
    @task(multiple_outputs=False, outlets=assets.SCHEMA)
    def set_up(params: dict[str, Any] | None = None, dag_run: Any = None) -> dict[str, Any]:
        from banking import tasks

        with tasks.fail_fast():
            reference = dag_run.data_interval_end or dag_run.run_after
            return tasks.set_up_schema(reference, params["days_ahead"])

    @task(multiple_outputs=False, outlets=assets.LOADED)
    def warm_start(dag_run: Any = None) -> dict[str, Any]:
        from banking import tasks

        with tasks.fail_fast():
            return tasks.warm_start(dag_run.run_after)

    set_up() >> warm_start()


banking_schema()
