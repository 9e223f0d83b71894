"""A throw-away project home for ``make run`` and ``./airflow``: the environment that points them at it."""

from __future__ import annotations

import os
from pathlib import Path

from scripts.airflow_env import PRIVATE_PREFIXES


def project_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without its AIRFLOW*/BANKING_* variables, ``.airflow``/``.data`` under ``tmp``,
    and the tests' small population."""
    os.chmod(tmp, 0o755)  # as root, the embedded PostgreSQL runs as its own OS user
    env = {k: v for k, v in os.environ.items() if not k.startswith(PRIVATE_PREFIXES)}
    env.update(
        BANKING_AIRFLOW_HOME=str(tmp / "airflow-home"),
        BANKING_DATA_DIR=str(tmp / "data"),
        BANKING_N_ACCOUNTS="300",
        BANKING_N_MERCHANTS="120",
        BANKING_SEED="7",
        BANKING_WARM_START_DAYS="0",  # make run's first start loads no history here: quick tests
    )
    env.update(extra)
    return env
