"""
### Banking transactions: the micro-batch

Every minute, one run owns one data window `[start, end)` and carries it through three tasks:

1. **generate**: validates the trigger params and draws the window's synthetic transactions from
   the stable population (a pure function of settings and time: any window holds exactly the rows
   of its minutes; only a small manifest goes to XCom);
2. **score**: regenerates the batch from the manifest, reads the accounts' history loaded before the
   window, applies the rules of `include/rules/rules.yaml`, and stages the scores in PostgreSQL;
3. **load**: regenerates the batch again and replaces everything in the window's time range in
   `banking_data` with one COPY of the scored rows inside one transaction, together with the
   rollups and one audit row per minute in `banking_batches`. Loading the same time again, in any
   cut, leaves exactly the same rows.

After downtime, the first scheduled run also loads every minute missed since the last loaded one
(up to `BANKING_CATCH_UP_HOURS`, 24; older missed time is logged with the backfill command). A
manual run owns the last complete minute before it was triggered, or the `window_minutes` before
that minute's end. Runs go one at a time (`max_active_runs=1`) because each window's rules read the
minutes loaded before it.

Connection: `banking_db` (`AIRFLOW_CONN_BANKING_DB`). Settings: `BANKING_*` environment variables.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

# Light at parse time: the settings module imports nothing but the standard library, assets only airflow.sdk.
from banking import assets
from banking.stream.settings import ENV_PREFIX, MAX_WINDOW_MINUTES, SPECS, GeneratorSettings

NOT_NAN = {"type": "number", "minimum": 1, "maximum": -1}
DEFAULT_ARGS = {
    "owner": "banking",
    "retries": 3,
    "retry_delay": timedelta(seconds=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=2),
    "execution_timeout": timedelta(minutes=10),
}


def stream_param(name: str, title: str) -> Param:
    """A trigger-form field for a stream setting, with the type and bounds of ``settings.SPECS``."""
    spec = SPECS[name]
    number = spec.kind is float
    default = getattr(GeneratorSettings(), name)
    return Param(
        None,
        type=["null", "number" if number else "integer"],
        minimum=spec.kind(spec.low),
        maximum=spec.kind(spec.high),
        # NaN fails no comparison, so minimum/maximum let it through: only NaN matches this.
        **({"not": NOT_NAN} if number else {}),
        title=title,
        description=f"{spec.help[0].upper()}{spec.help[1:]}. Empty: {ENV_PREFIX}{name.upper()} or {default:g}.",
    )


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
            maximum=MAX_WINDOW_MINUTES,
            title="Window (minutes)",
            description="Minutes of data this run owns, ending where its data interval ends. Empty: one minute.",
        ),
        "rate_per_minute": stream_param("rate_per_minute", "Transactions per minute"),
        "fraud_rate": stream_param("fraud_rate", "Injected fraud share"),
        "variant": stream_param("variant", "Stream variant"),
    },
)
def banking_transactions() -> None:
    @task(multiple_outputs=False)
    def generate(
        params: dict[str, Any] | None = None,
        data_interval_start: pendulum.DateTime | None = None,
        data_interval_end: pendulum.DateTime | None = None,
        dag_run: Any = None,
    ) -> dict[str, Any]:
        from banking import tasks

        with tasks.fail_fast():
            return tasks.generate(
                dict(params or {}),
                data_interval_start,
                data_interval_end,
                dag_run.run_after,
                dag_run.run_type,
            )

    @task(multiple_outputs=False, outlets=[assets.STAGING])
    def score(manifest: dict[str, Any]) -> dict[str, Any]:
        from banking import tasks

        with tasks.fail_fast():
            return tasks.score(manifest)

    @task(multiple_outputs=False, outlets=assets.LOADED)
    def load(manifest: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        from banking import tasks

        with tasks.fail_fast():
            return tasks.load(manifest, run_id)

    manifest = generate()
    score(manifest) >> load(manifest)  # the load reads what the score task staged


banking_transactions()
