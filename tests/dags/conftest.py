"""Real DAG runs: ``airflow dags test`` in a subprocess, against a private Airflow home and database."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from scripts.airflow_env import AIRFLOW, ROOT
from scripts.airflow_env import airflow_env as checkout_env

from tests.pg import TestServer

PARSE_TIMES: dict[str, float] = {}
__all__ = ["AIRFLOW", "ROOT", "airflow_env"]


def airflow_env(home: Path, conn_uri: str | None) -> dict[str, str]:
    """The checkout's Airflow environment, nothing from the caller's AIRFLOW*/BANKING_* variables."""
    # The tests' small population keeps each run quick; the data has the same shape.
    return checkout_env(
        home,
        conn_uri,
        clean=True,
        BANKING_N_ACCOUNTS="300",
        BANKING_N_MERCHANTS="120",
        BANKING_SEED="7",
        BANKING_WARM_START_DAYS="0",  # tests that want the warm start set it themselves
    )


@dataclass
class AirflowRunner:
    home: Path
    conn_uri: str | None
    dbname: str
    pg: TestServer

    def dags_test(
        self, dag_id: str, logical_date: str, conf: str | None = None
    ) -> subprocess.CompletedProcess:
        args = [AIRFLOW, "dags", "test", dag_id, logical_date]
        if conf is not None:
            args += ["--conf", conf]
        return subprocess.run(
            args, env=airflow_env(self.home, self.conn_uri), capture_output=True, text=True, timeout=300
        )

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.pg.conninfo(self.dbname), autocommit=True)


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow-home")
    subprocess.run(
        [AIRFLOW, "db", "migrate"], env=airflow_env(home, None), check=True, capture_output=True, timeout=300
    )
    return home


@pytest.fixture
def airflow_runner(pg: TestServer, airflow_home: Path) -> Iterator[AirflowRunner]:
    dbname = pg.create_database("banking_dag")
    yield AirflowRunner(airflow_home, pg.uri(dbname), dbname, pg)
