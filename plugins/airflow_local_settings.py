"""Warm task processes: Airflow imports this module in every one of its processes (it is on sys.path).

The scheduler (whose LocalExecutor workers fork the task processes) and Celery workers (whose pool
processes do) import the pipeline's modules and build the configured population's tables once, so
that each task process starts with them instead of paying about 0.4 s for imports and the population
before its first row (three times per run, once per task; see docs/performance.md, Freshness).
Every other Airflow process (api-server, dag-processor, the CLI) is left as it was. A warm-up that
fails is logged and skipped: the tasks then load what they need themselves, as they always can.
"""

from __future__ import annotations

import logging
import sys

# Airflow's own settings module reads these names; this file defines none of its policies.
__all__: list[str] = []


def _warm_if_worker_parent() -> None:
    command = sys.argv[1:3]
    if command[:1] != ["scheduler"] and command != ["celery", "worker"]:
        return
    try:
        from banking import tasks

        tasks.warm()
    except Exception:  # noqa: BLE001 - a cold start is slower, not wrong
        logging.getLogger(__name__).warning(
            "warming the banking tasks failed; tasks load cold", exc_info=True
        )


_warm_if_worker_parent()
