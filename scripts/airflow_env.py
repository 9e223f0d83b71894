"""The environment of an Airflow process of this checkout: ``make run``, ``./airflow``, the e2e stack, the tests.

Every Airflow process started here gets its home, this checkout's DAGs and plugins folders, no
example DAGs, and the ``banking_db`` connection from this one function, so a command typed at the
CLI sees exactly what ``make run``'s scheduler sees.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
AIRFLOW = str(BIN / "airflow")
# Variables of the calling shell that tests and the e2e stack must not inherit.
PRIVATE_PREFIXES = ("AIRFLOW", "BANKING_")


def project_home() -> Path:
    """``make run``'s AIRFLOW_HOME: ``BANKING_AIRFLOW_HOME``, default ``.airflow/`` in the checkout."""
    return Path(os.environ.get("BANKING_AIRFLOW_HOME") or ROOT / ".airflow").resolve()


def project_data() -> Path:
    """Where ``make run`` keeps its data (embedded PostgreSQL, Grafana): ``BANKING_DATA_DIR``, default ``.data/``."""
    return Path(os.environ.get("BANKING_DATA_DIR") or ROOT / ".data").resolve()


def airflow_env(
    home: Path,
    conn_uri: str | None,
    *,
    inherit: Mapping[str, str] | None = None,
    clean: bool = False,
    **settings: str,
) -> dict[str, str]:
    """The environment for an Airflow command on ``home`` with ``conn_uri`` as ``banking_db``.

    ``inherit`` is the environment to start from (default ``os.environ``); ``clean`` drops its
    ``AIRFLOW*`` and ``BANKING_*`` variables first (tests, the e2e stack). ``settings`` are added last.
    """
    base = dict(os.environ if inherit is None else inherit)
    if clean:
        base = {k: v for k, v in base.items() if not k.startswith(PRIVATE_PREFIXES)}
    base.update(
        AIRFLOW_HOME=str(home),
        # An airflow.cfg named by the caller's shell would point elsewhere: the home's own file only.
        AIRFLOW_CONFIG=str(home / "airflow.cfg"),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "plugins"), str(ROOT), base.get("PYTHONPATH")])),
        # Airflow starts its own components as `airflow ...` from PATH: this venv's.
        PATH=os.pathsep.join(filter(None, [str(BIN), base.get("PATH")])),
    )
    if conn_uri:
        base["AIRFLOW_CONN_BANKING_DB"] = conn_uri
    base.update(settings)
    return base
