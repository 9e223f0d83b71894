"""
### Banking retention

Drops the daily partitions of `banking_data` that ended more than `retention_days` before the end
of this run's data interval, with the audit rows and the history rules' hour tiles of those days,
and staged windows that no load picked up within a day. The current and future days are never
dropped, whatever the params say. With `dry_run` it only lists what it would drop.

Beside it, `seal_closed_days` seals the history rules' state of every day that ended by the run's
data interval end: it builds the day's per-account day tiles once from its rows, so that windows
read a day of tiles per account for it instead of its hours. Until a day is sealed its hours are
read instead, with the same results, so the DAG runs just after midnight (UTC). It also builds the
live rules' block (the middle of their look-back summed per account, for the window after the
latest load) when there is none (retention dropped it, an upgrade replaced it) or the rule file's
look-back changed; each load moves it forward. Trigger it after an upgrade or a rule change rather
than wait for midnight. The task runs whatever `dry_run` says, as it deletes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

# Light at parse time: these modules import only airflow.sdk and pendulum.
from banking import assets
from banking.dag_args import maintenance


@dag(
    dag_id="banking_retention",
    schedule=CronDataIntervalTimetable("5 0 * * *", timezone="UTC"),  # just after midnight (docstring)
    **maintenance(retry_delay=timedelta(minutes=1)),
    doc_md=__doc__,
    params={
        "retention_days": Param(30, type="integer", minimum=1, maximum=3650, title="Retention (days)"),
        "dry_run": Param(False, type="boolean", title="Dry run"),
    },
)
def banking_retention() -> None:
    # What it deletes from: the loaded rows, their rollups, the audit and stale staged windows.
    @task(multiple_outputs=False, outlets=[*assets.LOADED, assets.STAGING])
    def drop_old_data(params: dict[str, Any] | None = None, dag_run: Any = None) -> dict[str, Any]:
        from banking import tasks

        with tasks.fail_fast():
            reference = dag_run.data_interval_end or dag_run.run_after
            return tasks.apply_retention(reference, params["retention_days"], params["dry_run"])

    # Writes only the history rules' day tiles (store/account_tiles), which are no Asset.
    @task(multiple_outputs=False)
    def seal_closed_days(dag_run: Any = None) -> dict[str, Any]:
        from banking import tasks

        with tasks.fail_fast():
            return tasks.seal_closed_days(dag_run.data_interval_end or dag_run.run_after)

    drop_old_data()
    seal_closed_days()


banking_retention()
