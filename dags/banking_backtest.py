"""
### Banking backtest: what would a candidate rule set have decided?

Trigger it with the form. It replays every window of `banking_transactions` loaded inside the
range `[start, end)`, in window order, and re-scores its stored transactions with the candidate
rules (`rules_file`, a file under `include/`, or `rules_json`, the rules inline), reading the
accounts' history exactly as the live score task did. Nothing in `banking_data` changes.

Results go to `banking_backtest_runs`, `banking_backtest_results` (every transaction's candidate
verdict next to the live one) and `banking_backtest_metrics` (per rule and overall, live vs
candidate: hits, rejections, rejected amount, precision and recall against the injected fraud),
keyed by `backtest_id`; the task log prints the same table. A large range goes in chunks of
`chunk_minutes`, with progress in the log. Running the same id again replaces its results with
identical ones. Bad input (rules, an empty or reversed range, a range without data) fails at once,
without retries, and writes nothing. See `docs/backtests.md`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task

# Light at parse time: the bounds module imports nothing but the standard library, assets only airflow.sdk.
from banking import assets
from banking.backtest.bounds import BACKTEST_ID_PATTERN, DEFAULT_CHUNK_MINUTES, MAX_CHUNK_MINUTES


@dag(
    dag_id="banking_backtest",
    schedule=None,  # triggered by hand, with the form
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "banking",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(hours=6),
    },
    tags=["banking", "fraud", "backtest"],
    doc_md=__doc__,
    params={
        "backtest_id": Param(
            type="string",
            pattern=BACKTEST_ID_PATTERN,
            title="Backtest id",
            description="Names the results; running the same id again replaces them.",
        ),
        "rules_file": Param(
            None,
            type=["null", "string"],
            title="Candidate rule file",
            description="A rule file under include/, e.g. rules/rules.yaml. Leave empty to use the JSON below.",
        ),
        "rules_json": Param(
            None,
            type=["null", "object"],
            title="Candidate rules (JSON)",
            description="The rule set inline: version, thresholds, rules. Leave empty to use the file.",
        ),
        "start": Param(
            type="string",
            format="date-time",
            title="From (inclusive)",
            description="ISO 8601, e.g. 2026-11-20T00:00:00+00:00 (UTC when no offset is given).",
        ),
        "end": Param(
            type="string",
            format="date-time",
            title="To (exclusive)",
            description="ISO 8601. Only windows that lie wholly inside [from, to) are replayed.",
        ),
        "chunk_minutes": Param(
            DEFAULT_CHUNK_MINUTES,
            type="integer",
            minimum=1,
            maximum=MAX_CHUNK_MINUTES,
            title="Chunk (minutes)",
            description="The range is processed in chunks of this many minutes, with progress in the log.",
        ),
    },
)
def banking_backtest() -> None:
    @task(multiple_outputs=False, outlets=assets.BACKTEST)
    def run_backtest(params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
        from banking import tasks

        with tasks.fail_fast():
            return tasks.run_backtest(dict(params or {}), run_id)

    run_backtest()


banking_backtest()
