"""``./airflow`` and ``make airflow ARGS=...``: any Airflow CLI command in ``make run``'s environment.

Same home (``.airflow``), DAGs and plugins folders, ``banking_db`` connection and settings as
``make run``; the embedded PostgreSQL is started when it is not running (and stopped after, unless
``make run`` uses it). On a home that was never set up it first does what ``make run`` does before
starting Airflow (metadata database, banking schema).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts import embedded_postgres  # noqa: E402
from scripts.airflow_env import AIRFLOW, project_home  # noqa: E402
from scripts.run import airflow_env, banking_database, prepare  # noqa: E402


def main(argv: list[str]) -> int:
    try:
        return run(argv)
    except embedded_postgres.Unavailable as error:
        print(error, file=sys.stderr)
        return 1


def run(argv: list[str]) -> int:
    """``airflow *argv`` in make run's environment; its exit status."""
    home = project_home()
    with banking_database() as db:
        env = airflow_env(db.conn_uri, home)
        if not (home / "airflow.db").exists():
            prepare(env)
        try:
            return subprocess.run([AIRFLOW, *argv], env=env).returncode
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
