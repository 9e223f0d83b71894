"""``make run``: the pipeline on its schedule on this machine, in one command.

1. The banking database: ``AIRFLOW_CONN_BANKING_DB`` when it is set, otherwise an embedded
   PostgreSQL whose data lives in ``.data/postgres`` and survives restarts.
2. Airflow in ``.airflow/`` (SQLite metadata, ``airflow standalone``), with the DAGs and plugins of
   this checkout, no example DAGs, and the banking DAGs unpaused.
3. ``banking_schema`` runs once (migrations, roles, population, partitions), then Airflow starts
   and ``banking_transactions`` loads a window every minute.

Ctrl-C stops Airflow and the embedded PostgreSQL; the data stays for the next start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts import embedded_postgres  # noqa: E402

DATA_DIR = Path(os.environ.get("BANKING_DATA_DIR", ROOT / ".data"))
AIRFLOW_HOME = Path(os.environ.get("AIRFLOW_HOME", ROOT / ".airflow"))
DB_NAME = "banking"
PORT = os.environ.get("AIRFLOW__API__PORT", "8080")


def say(message: str) -> None:
    print(f"\033[1;36m[make run]\033[0m {message}", flush=True)


def airflow_env(conn_uri: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(AIRFLOW_HOME),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=env.get("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30"),
        # A micro-batch every minute: the scheduler looks for the next task sooner when idle (default
        # 1 s), and a finished task gives its slot back sooner (default 5 s). See docs/performance.md.
        AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME=env.get(
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", "0.2"
        ),
        AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL=env.get("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", "1"),
        AIRFLOW__API__PORT=PORT,
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://localhost:{PORT}/execution/",
        AIRFLOW_CONN_BANKING_DB=conn_uri,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "plugins"), env.get("PYTHONPATH")])),
        # airflow standalone starts its components as `airflow ...` from PATH: use this venv's.
        PATH=os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH")])),
    )
    return env


AIRFLOW = str(Path(sys.executable).parent / "airflow")


def airflow(env: dict[str, str], *args: str) -> None:
    say("airflow " + " ".join(args))
    subprocess.run(
        [AIRFLOW, *args], env=env, check=True, stdout=subprocess.DEVNULL if args[0] == "db" else None
    )


def login_hint() -> str:
    generated = AIRFLOW_HOME / "simple_auth_manager_passwords.json.generated"
    try:
        users = json.loads(generated.read_text())
        return ", ".join(f"{user} / {password}" for user, password in users.items())
    except (OSError, ValueError):
        return f"see {generated}"


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C and `kill` both stop everything cleanly, even where SIGINT was inherited as ignored.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    server = None
    conn_uri = os.environ.get("AIRFLOW_CONN_BANKING_DB")
    if conn_uri:
        say("using the database of AIRFLOW_CONN_BANKING_DB")
    else:
        server, admin = embedded_postgres.start(DATA_DIR / "postgres")
        embedded_postgres.ensure_database(admin, DB_NAME)
        conn_uri = embedded_postgres.airflow_uri(admin, DB_NAME)
        say(f"embedded PostgreSQL running, data in {DATA_DIR / 'postgres'}")
    env = airflow_env(conn_uri)
    standalone = None
    try:
        airflow(env, "db", "migrate")
        airflow(env, "dags", "reserialize")
        airflow(env, "dags", "test", "banking_schema")
        for dag_id in ("banking_transactions", "banking_schema", "banking_retention"):
            airflow(env, "dags", "unpause", dag_id)
        standalone = subprocess.Popen(
            [AIRFLOW, "standalone"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert standalone.stdout is not None
        for line in standalone.stdout:
            print(line, end="", flush=True)
            if "Airflow is ready" in line:
                say(f"Airflow UI: http://localhost:{PORT}  login: {login_hint()}")
                say("banking_transactions loads one window every minute; Ctrl-C stops everything")
                host_hint = "" if server is None else f" (psql: psql '{server.get_uri(DB_NAME)}')"
                say(f"banking database: {conn_uri}{host_hint}")
                say("Grafana: point a PostgreSQL data source at that database, or see README 'Docker'")
        return standalone.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if standalone is not None and standalone.poll() is None:
            standalone.send_signal(signal.SIGINT)
            try:
                standalone.wait(timeout=30)
            except subprocess.TimeoutExpired:
                standalone.kill()
        if server is not None:
            server.cleanup()
            say("embedded PostgreSQL stopped; its data stays for the next start")


if __name__ == "__main__":
    sys.exit(main())
