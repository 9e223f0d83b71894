"""
### Banking transactions: the micro-batch

Every minute, one run owns one data window `[start, end)` and carries it through three tasks:

1. **generate**: validates the trigger params and draws the window's synthetic transactions from
   the stable population (a pure function of settings and window; only a small manifest goes to XCom);
2. **score**: regenerates the batch from the manifest, reads the accounts' history loaded before the
   window, applies the rules of `include/rules/rules.yaml`, and stages the scores in PostgreSQL;
3. **load**: regenerates the batch again and replaces the window in `banking_data` with one COPY of
   the scored rows inside one transaction, together with the window's per-minute rollups and its
   audit row in `banking_batches`. Running a window again leaves exactly the same rows.

A manual run owns the last complete minute before it was triggered (the same window as the
scheduled run of that minute), or the `window_minutes` before that minute's end. Runs go one at a
time (`max_active_runs=1`) because each window's rules read the windows loaded before it.

Connection: `banking_db` (`AIRFLOW_CONN_BANKING_DB`). Settings: `BANKING_*` environment variables.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

NOT_NAN = {"type": "number", "minimum": 1, "maximum": -1}
DEFAULT_ARGS = {
    "owner": "banking",
    "retries": 3,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=2),
    "execution_timeout": timedelta(minutes=10),
}


@dag(
    dag_id="banking_transactions",
    schedule=CronDataIntervalTimetable("* * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args=DEFAULT_ARGS,
    tags=["banking", "fraud", "micro-batch"],
    doc_md=__doc__,
    params={
        "window_minutes": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=1440,
            title="Window (minutes)",
            description="Minutes of data this run owns, ending where its data interval ends. Empty: one minute.",
        ),
        "rate_per_minute": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=100000,
            # NaN fails no comparison, so minimum/maximum let it through: only NaN matches this.
            **{"not": NOT_NAN},
            title="Transactions per minute",
            description="Average arrival rate. Empty: BANKING_RATE_PER_MINUTE or 100.",
        ),
        "fraud_rate": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=0.5,
            **{"not": NOT_NAN},
            title="Injected fraud share",
            description="Share of transactions from injected fraud scenarios. Empty: BANKING_FRAUD_RATE or 0.02.",
        ),
        "variant": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            maximum=2147483647,
            title="Stream variant",
            description="Another reproducible stream for the same window. Empty: 0.",
        ),
    },
)
def banking_transactions() -> None:
    @task
    def generate() -> dict:
        from banking import tasks

        ctx = get_current_context()
        with tasks.fail_fast():
            return tasks.generate(
                dict(ctx["params"]),
                ctx.get("data_interval_start"),
                ctx.get("data_interval_end"),
                ctx["dag_run"].run_after,
                ctx["dag_run"].run_type,
            )

    @task
    def score(manifest: dict) -> dict:
        from banking import tasks

        with tasks.fail_fast():
            return tasks.score(manifest)

    @task
    def load(manifest: dict, summary: dict) -> dict:
        from banking import tasks

        with tasks.fail_fast():
            return tasks.load(manifest, get_current_context()["run_id"])

    manifest = generate()
    load(manifest, score(manifest))


banking_transactions()
