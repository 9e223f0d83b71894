"""plugins/airflow_local_settings.py warms the processes that fork task processes, and only those."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dags.conftest import airflow_env

PROBE = """
import json, sys
sys.argv = ["airflow", *sys.argv[1:]]
import airflow.settings  # imports airflow_local_settings, as every Airflow process does
from banking.stream.population import _population
print(json.dumps({
    "pipeline": "banking.pipeline" in sys.modules,
    "populations": _population.cache_info().currsize if "banking.stream.population" in sys.modules else 0,
    "fragments": len(sys.modules["banking.store.copy_format"]._MERCHANTS) if "banking.store.copy_format" in sys.modules else 0,
}))
"""


@pytest.mark.parametrize(
    ("command", "warm"),
    [
        (["scheduler"], True),
        (["celery", "worker"], True),
        (["api-server"], False),
        (["dag-processor"], False),
        (["dags", "list"], False),
    ],
)
def test_only_the_parents_of_task_processes_are_warmed(
    tmp_path: Path, command: list[str], warm: bool
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *command],
        env=airflow_env(tmp_path, None),
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    # The probe itself imports banking.stream.population to look; only a warmed process built anything.
    assert found == {"pipeline": warm, "populations": int(warm), "fragments": int(warm)}


def test_a_failed_warm_up_is_logged_and_leaves_the_process_running(tmp_path: Path) -> None:
    env = {**airflow_env(tmp_path, None), "BANKING_N_ACCOUNTS": "not a number"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, "scheduler"], env=env, capture_output=True, text=True, check=True
    )
    assert "warming the banking tasks failed" in result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["populations"] == 0
