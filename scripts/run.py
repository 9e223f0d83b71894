"""``make run``: the pipeline on its schedule on this machine, in one command.

1. The banking database: ``AIRFLOW_CONN_BANKING_DB`` when it is set, otherwise an embedded
   PostgreSQL whose data lives in ``.data/postgres`` and survives restarts.
2. Airflow in ``.airflow/`` (SQLite metadata, LocalExecutor): ``api-server`` on 127.0.0.1,
   ``scheduler`` and ``dag-processor``, sized for one window at a time, their logs in ``.airflow/logs``;
   the UI login's password is printed here, on the terminal, and is in no log file.
3. ``banking_schema`` runs once (migrations, roles, population, partitions), then
   ``banking_transactions`` loads a window every minute.
4. Grafana beside it when one is installed, else on Docker (:mod:`scripts.grafana_local`); the
   embedded PostgreSQL then listens on 127.0.0.1 too (password logins) for Grafana.

Ctrl-C (or SIGTERM) stops every process it started within seconds; the data stays for the next start.
``BANKING_AIRFLOW_HOME`` and ``BANKING_DATA_DIR`` move ``.airflow`` and ``.data``; ``BANKING_API_HOST``
opens the UI to another address than 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts import embedded_postgres, grafana_local, local_secrets  # noqa: E402
from scripts.airflow_env import AIRFLOW, project_data, project_home  # noqa: E402
from scripts.airflow_env import airflow_env as checkout_env  # noqa: E402

DB_NAME = "banking"
ADMIN = "admin"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# The components of `airflow standalone` this pipeline needs: no deferrable tasks, so no triggerer;
# the API server reads task logs from this machine's files, so the scheduler serves none on a port.
COMPONENTS = {"api-server": ["api-server"], "dag-processor": ["dag-processor"]}
# Started once the API answers: its tasks report to the API (no retries, no warnings, at start).
AFTER_API = {"scheduler": ["scheduler", "--skip-serve-logs"]}
STOP_SECONDS = 10
QUICK_STOP_SECONDS = 3


def say(message: str) -> None:
    print(f"\033[1;36m[make run]\033[0m {message}", flush=True)


def api_host() -> str:
    return os.environ.get("BANKING_API_HOST", "127.0.0.1")


def api_port() -> str:
    return os.environ.get("AIRFLOW__API__PORT", "8080")


def airflow_env(conn_uri: str, home: Path | None = None) -> dict[str, str]:
    """``make run``'s environment: the checkout's (:mod:`scripts.airflow_env`) sized for one window at a time."""
    home = home or project_home()
    port = api_port()

    def keep(name: str, default: str) -> str:  # a value the user's shell may override
        return os.environ.get(name, default)

    # Shared by every component (and ./airflow) of this home; 64 bytes, as SHA-512 JWTs want.
    keys = local_secrets.kept(home / "secrets.json", ["jwt_secret", "api_secret_key"], nbytes=64)
    return checkout_env(
        home,
        conn_uri,
        AIRFLOW__API_AUTH__JWT_SECRET=keys["jwt_secret"],
        AIRFLOW__API__SECRET_KEY=keys["api_secret_key"],
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        # One window at a time: 4 task slots (LocalExecutor keeps one worker process per slot).
        AIRFLOW__CORE__PARALLELISM=keep("AIRFLOW__CORE__PARALLELISM", "4"),
        AIRFLOW__API__HOST=api_host(),
        AIRFLOW__API__PORT=port,
        AIRFLOW__API__WORKERS=keep("AIRFLOW__API__WORKERS", "1"),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{port}/execution/",
        AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=keep("AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES", "1"),
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=keep("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30"),
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=keep(
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL", "60"
        ),
        # A micro-batch every minute: the scheduler looks for the next task sooner when idle (default
        # 1 s), and a finished task gives its slot back sooner (default 5 s). See docs/performance.md.
        AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME=keep(
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", "0.2"
        ),
        AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL=keep("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", "1"),
    )


def admin_password(home: Path) -> str:
    """The UI login's password: generated once, kept in the home's passwords file (mode 0600).

    Written before the api-server starts, so Airflow never generates one and never logs it.
    """
    return local_secrets.kept(home / "passwords.json", [ADMIN], nbytes=12)[ADMIN]


@dataclass
class Database:
    conn_uri: str
    admin: dict[str, str] | None  # the embedded server's admin parameters; None for a configured one
    tcp_port: int | None = None  # the embedded server's port on 127.0.0.1, when it listens there

    def tcp_conninfo(self) -> str:
        """Where a TCP client (Grafana) finds the banking database."""
        if self.admin is None:
            return self.conn_uri
        return f"host=127.0.0.1 port={self.tcp_port} dbname={DB_NAME}" if self.tcp_port else ""


@contextmanager
def banking_database(tcp: bool = False) -> Iterator[Database]:
    """``AIRFLOW_CONN_BANKING_DB`` when set, else the embedded server of ``.data/postgres`` (stopped on exit
    unless another process still uses it). ``tcp`` makes the embedded server listen on 127.0.0.1 too."""
    conn_uri = os.environ.get("AIRFLOW_CONN_BANKING_DB")
    if conn_uri:
        yield Database(conn_uri, None)
        return
    data_dir = project_data() / "postgres"
    server, admin = embedded_postgres.start(data_dir, tcp=tcp)
    try:
        embedded_postgres.ensure_database(admin, DB_NAME)
        yield Database(
            embedded_postgres.airflow_uri(admin, DB_NAME), admin, embedded_postgres.tcp_port(server)
        )
    finally:
        server.cleanup()


def airflow(env: dict[str, str], *args: str, show: str | None = None) -> None:
    """Run an Airflow command quietly; on failure show its output and raise. Output lines that
    contain ``show`` are passed on as they come (progress worth seeing)."""
    say("airflow " + " ".join(args))
    with subprocess.Popen(
        [AIRFLOW, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        output = []
        for line in process.stdout:
            output.append(line)
            if show and show in line:
                say(line.strip()[:300])
    if process.returncode != 0:
        print("".join(output)[-8000:], file=sys.stderr)
        raise subprocess.CalledProcessError(process.returncode, process.args)


def prepare(env: dict[str, str]) -> None:
    """Metadata database, serialized DAGs, the banking schema, and the banking DAGs unpaused."""
    airflow(env, "db", "migrate")
    airflow(env, "dags", "reserialize")
    # On a new database this includes the warm start: 7 days of history, well under a minute.
    airflow(env, "dags", "test", "banking_schema", show="warm start")
    for dag_id in ("banking_transactions", "banking_schema", "banking_retention"):
        airflow(env, "dags", "unpause", dag_id)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A process in a session of its own (a terminal's Ctrl-C reaches only us; we stop it), logging to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _signal_groups(processes: dict[str, subprocess.Popen], sig: signal.Signals) -> None:
    for process in processes.values():
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass


def stop_all(processes: dict[str, subprocess.Popen], timeout: float = STOP_SECONDS) -> None:
    """SIGTERM each process group, SIGKILL what is left after ``timeout`` (the api-server, which keeps
    no state and drains its connections for up to 8 s, after ``QUICK_STOP_SECONDS``)."""
    import psutil

    family: list[psutil.Process] = []
    for process in processes.values():
        try:
            leader = psutil.Process(process.pid)
            family += [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    _signal_groups(processes, signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=QUICK_STOP_SECONDS)
    _signal_groups({k: v for k, v in processes.items() if k == "api-server"}, signal.SIGKILL)
    _, alive = psutil.wait_procs(alive, timeout=timeout - QUICK_STOP_SECONDS)
    _signal_groups(processes, signal.SIGKILL)
    for proc in alive:  # descendants that left their group
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    for process in processes.values():
        process.wait()


def ui_answers(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2):  # noqa: S310
            return True
    except OSError:
        return False


def supervise(
    processes: dict[str, subprocess.Popen], env: dict[str, str], logs: Path, on_ready: list[str]
) -> int:
    """Wait until the UI answers, then start :data:`AFTER_API` and print ``on_ready``; return when a
    process exits."""
    ready = False
    while True:
        for name, process in processes.items():
            if process.poll() is not None:
                tail = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                say(f"{name} exited with {process.returncode}; the end of {logs / name}.log:\n{tail}")
                return 1
        if not ready and ui_answers(env["AIRFLOW__API__PORT"]):
            ready = True
            for name, args in AFTER_API.items():
                processes[name] = start([AIRFLOW, *args], env, logs / f"{name}.log")
            for line in on_ready:
                say(line)
        time.sleep(1)


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    # Ctrl-C and `kill` both stop everything cleanly, even where SIGINT was inherited as ignored.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    home = project_home()
    grafana = grafana_local.find()
    processes: dict[str, subprocess.Popen] = {}
    try:
        with banking_database(tcp=grafana is not None) as db:
            try:
                if db.admin is None:
                    say("using the database of AIRFLOW_CONN_BANKING_DB")
                else:
                    say(f"embedded PostgreSQL running, data in {project_data() / 'postgres'}")
                env = airflow_env(db.conn_uri, home)
                dashboard = None
                if grafana is not None and db.tcp_conninfo():
                    dashboard = grafana_local.prepare(grafana, db.tcp_conninfo(), project_data() / "grafana")
                if dashboard is not None:
                    env.update(dashboard.airflow_env)  # banking_schema creates banking_dashboard with it
                password = admin_password(home)
                prepare(env)
                if api_host() not in LOOPBACK:
                    say(
                        f"WARNING: the UI and REST API listen on {api_host()} (BANKING_API_HOST): reachable from the network"
                    )
                logs = home / "logs"
                for name, args in COMPONENTS.items():
                    processes[name] = start([AIRFLOW, *args], env, logs / f"{name}.log")
                on_ready = [
                    f"Airflow UI: http://{api_host()}:{api_port()}  login: {ADMIN} / {password}",
                    "banking_transactions loads one window every minute; Ctrl-C stops everything",
                    f"logs: {logs}; any Airflow command in this environment: ./airflow <command>",
                    dashboard.hint if dashboard is not None else grafana_local.MISSING_HINT,
                ]
                if db.admin is not None:  # a configured URI may hold a password: not printed
                    on_ready.append(
                        f"banking database (psql): {make_conninfo(**{**db.admin, 'dbname': DB_NAME})}"
                    )
                if dashboard is not None:
                    processes["grafana"] = start(dashboard.command, dashboard.env, logs / "grafana.log")
                return supervise(processes, env, logs, on_ready)
            finally:
                # Stop Airflow before the database it writes to; a second Ctrl-C must not cut this short.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                if processes:
                    stop_all(processes)
                    say("Airflow stopped")
    except KeyboardInterrupt:
        return 0
    except embedded_postgres.Unavailable as error:
        say(str(error))
        return 1
    finally:
        if not os.environ.get("AIRFLOW_CONN_BANKING_DB"):
            say(
                "embedded PostgreSQL stopped (unless ./airflow still uses it); its data stays for the next start"
            )


if __name__ == "__main__":
    sys.exit(main())
