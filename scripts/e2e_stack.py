"""Airflow on Celery workers as separate processes: the end-to-end tests' stack, also usable by hand.

What it starts, each process in its own process group (stopped with ``os.killpg``):

- PostgreSQL: two fresh databases, Airflow's metadata (also the Celery result backend) and the banking
  data, on the server of ``--dsn``, else the local server on 127.0.0.1:5432, else an embedded
  ``pgserver`` in a temporary folder (``--dsn embedded`` forces it). Both are dropped at the end.
- Redis as the Celery broker: ``--redis-url``, else the server on 127.0.0.1:6379 (an empty database
  number), else a ``redis-server`` of the system's packages on a free port (``--redis-url start``).
- ``airflow db migrate``, then ``airflow api-server``, ``airflow scheduler``, ``airflow dag-processor``
  and one or more ``airflow celery worker``, with the CeleryExecutor, on free ports, a queue of their
  own (so no other worker on the machine takes their tasks), and the simple auth manager with a
  password generated at start.

The scheduler does not create scheduled runs (``[scheduler] use_job_schedule = False``) unless
``--schedule`` is given: runs come from the REST API or the UI, so each one owns the window it was
triggered for.

By hand::

    .venv/bin/python scripts/e2e_stack.py up                # prints the UI address and login; Ctrl-C stops
    .venv/bin/python scripts/e2e_stack.py measure --runs 5 --rate 100000   # rows/s through Celery

``measure`` prints ``name: value`` lines (see docs/scaling.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts import embedded_postgres  # noqa: E402
from scripts.airflow_env import AIRFLOW  # noqa: E402
from scripts.airflow_env import airflow_env as checkout_env  # noqa: E402

LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = ("127.0.0.1", 6379)
ADMIN = "admin"
TERMINAL_RUN_STATES = {"success", "failed"}
# Where ``measure`` starts its windows: a fixed past day, so the time-of-day curve is the same each time.
MEASURE_START = datetime(2026, 11, 20, tzinfo=timezone.utc)


def say(message: str) -> None:
    print(f"[e2e-stack] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port nothing listens on now (bound to 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sqlalchemy_url(params: Mapping[str, str], dbname: str, scheme: str) -> str:
    """A SQLAlchemy URL; a Unix socket folder goes into the ``host`` query parameter."""
    user = quote(params.get("user") or "postgres", safe="")
    password = params.get("password")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    if host.startswith("/"):
        return f"{scheme}://{auth}@/{dbname}?host={quote(host, safe='')}&port={port}"
    return f"{scheme}://{auth}@{host}:{port}/{dbname}"


# --------------------------------------------------------------------------- PostgreSQL


class Postgres:
    """A server to create the stack's databases on; drops them (and stops an embedded one) on close."""

    def __init__(self, work_dir: Path, dsn: str | None = None) -> None:
        self._server = None
        if not dsn and self._reachable(LOCAL_PG):
            dsn = LOCAL_PG
        if dsn and dsn != "embedded":
            self.admin = conninfo_to_dict(dsn)
            self.where = f"{self.admin.get('host') or 'local socket'}:{self.admin.get('port') or 5432}"
        else:
            data_dir = work_dir / "pgdata"
            self._server, self.admin = embedded_postgres.start(data_dir)
            self.where = f"embedded pgserver in {data_dir}"
        self.created: list[str] = []

    @staticmethod
    def _reachable(dsn: str) -> bool:
        try:
            with psycopg.connect(dsn, connect_timeout=3):
                return True
        except psycopg.Error:
            return False

    def create_database(self, name: str) -> str:
        with psycopg.connect(make_conninfo(**self.admin), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return name

    def conninfo(self, dbname: str) -> str:
        return make_conninfo(**{**self.admin, "dbname": dbname})

    def connect(self, dbname: str) -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname), autocommit=True)

    def close(self) -> None:
        try:
            with psycopg.connect(make_conninfo(**self.admin), autocommit=True) as conn:
                for name in self.created:
                    conn.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                    )
        finally:
            if self._server is not None:
                self._server.cleanup()


# --------------------------------------------------------------------------- Redis


class Redis:
    """The Celery broker: a configured URL, the local server (an empty database), or our own server."""

    def __init__(self, work_dir: Path, token: str, url: str | None = None) -> None:
        import redis

        self._process: subprocess.Popen | None = None
        self._token = token
        if not url and self._ping(redis.Redis(*LOCAL_REDIS, socket_timeout=3)):
            url = f"redis://{LOCAL_REDIS[0]}:{LOCAL_REDIS[1]}/{self._empty_db(redis.Redis(*LOCAL_REDIS))}"
        if not url or url == "start":
            url = self._start_own(work_dir)
        self.url = url
        self.client = redis.Redis.from_url(url)
        self.where = url if self._process is None else f"{url} (redis-server started by the stack)"

    @staticmethod
    def _ping(client: Any) -> bool:
        import redis

        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    @staticmethod
    def _empty_db(client: Any) -> int:
        """The highest-numbered empty database (others may use 0); the queue name is ours anyway."""
        try:
            count = int(client.config_get("databases").get("databases", 16))
        except Exception:
            count = 16
        try:
            for db in range(count - 1, 0, -1):
                client.execute_command("SELECT", db)
                if client.dbsize() == 0:
                    return db
            return 0
        finally:
            client.close()

    def _start_own(self, work_dir: Path) -> str:
        import redis

        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "no Redis on 127.0.0.1:6379 and no redis-server to start one: "
                "apt-get install redis-server (make e2e-deps), or give a Redis URL"
            )
        port = free_port()
        data = work_dir / "redis"
        data.mkdir()
        with (work_dir / "redis.log").open("wb") as out:
            self._process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(data),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(work_dir / 'redis.log').read_text()[-2000:]}")
            if self._ping(redis.Redis("127.0.0.1", port, socket_timeout=1)):
                return f"redis://127.0.0.1:{port}/0"
            time.sleep(0.2)
        raise RuntimeError("redis-server did not answer PING within 20 s")

    def close(self) -> None:
        try:
            if self._process is None:
                # A shared server: remove the keys named after this stack's queue, then kombu's
                # bookkeeping (pidbox bindings) unless another stack's queue is in this database too.
                for key in self.client.scan_iter(f"*{self._token}*"):
                    self.client.delete(key)
                rest = list(self.client.scan_iter("*"))
                if all(k.startswith((b"_kombu.", b"unacked")) and b"banking_e2e_" not in k for k in rest):
                    for key in rest:
                        self.client.delete(key)
            self.client.close()
        finally:
            if self._process is not None:
                stop_group(self._process, "redis-server")


# --------------------------------------------------------------------------- processes


def stop_group(process: subprocess.Popen, name: str, timeout: float = 30) -> None:
    """SIGTERM the process group, SIGKILL it after ``timeout``, and reap the leader."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            say(f"{name} did not stop after {sig.name}")
            continue
        if sig is signal.SIGTERM:
            # The leader is gone; children it left in its group (pool processes, log server) go too.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        break
    if process.poll() is None:
        process.wait(timeout=10)


@dataclass
class Component:
    name: str
    args: list[str]
    log: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


# --------------------------------------------------------------------------- REST API


class Api:
    """The Airflow REST API (v2) with a JWT from the simple auth manager's ``POST /auth/token``."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self._credentials = {"username": username, "password": password}
        self.client = httpx.Client(base_url=base_url, timeout=30)
        self._token_at = 0.0

    def token(self) -> str:
        response = self.client.post("/auth/token", json=self._credentials)
        response.raise_for_status()
        return response.json()["access_token"]

    def _auth(self) -> None:
        if time.monotonic() - self._token_at > 600:
            self.client.headers["Authorization"] = f"Bearer {self.token()}"
            self._token_at = time.monotonic()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self._auth()
        return self.client.request(method, "/api/v2" + path, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        response = self.request("GET", path, params=params)
        response.raise_for_status()
        return response.json()

    def unpause(self, dag_id: str) -> None:
        response = self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        response.raise_for_status()

    def trigger(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, logical_date: datetime | None = None
    ) -> httpx.Response:
        body = {
            "logical_date": logical_date.isoformat() if logical_date else None,
            "conf": dict(conf or {}),
        }
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")["task_instances"]

    def close(self) -> None:
        self.client.close()


# --------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    """Start with :meth:`start` (or ``with Stack(...) as stack``); :meth:`stop` undoes everything."""

    workers: int = 1
    concurrency: int = 2
    schedule: bool = False
    banking_env: dict[str, str] = field(default_factory=dict)
    airflow_env: dict[str, str] = field(default_factory=dict)
    dsn: str | None = None  # a PostgreSQL server's admin DSN; None: the local one, else an embedded one
    redis_url: str | None = None  # None: the local Redis, else a redis-server of our own
    keep_dir: bool = False

    def __post_init__(self) -> None:
        self.token = uuid.uuid4().hex[:10]
        self.queue = f"banking_e2e_{self.token}"
        self.work_dir = Path(tempfile.mkdtemp(prefix="banking-e2e-"))
        os.chmod(self.work_dir, 0o755)  # as root, an embedded pgserver runs as its own OS user
        self.home = self.work_dir / "airflow"
        self.home.mkdir()
        self.components: list[Component] = []
        self.pg: Postgres | None = None
        self.redis: Redis | None = None
        self.api: Api | None = None
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self.meta_db = f"airflow_e2e_{self.token}"
        self.banking_db = f"banking_e2e_{self.token}"

    # --- life cycle

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300) -> None:
        started = time.monotonic()
        self.pg = Postgres(self.work_dir, self.dsn)
        self.pg.create_database(self.meta_db)
        self.pg.create_database(self.banking_db)
        say(f"PostgreSQL: {self.pg.where}, databases {self.meta_db} and {self.banking_db}")
        self.redis = Redis(self.work_dir, self.token, self.redis_url)
        say(f"Redis broker: {self.redis.where}, queue {self.queue}")
        self.port = free_port()
        env = self.env()
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            start_new_session=True,
        )
        if migrate.returncode != 0:
            raise RuntimeError(
                f"airflow db migrate failed:\n{migrate.stdout[-3000:]}{migrate.stderr[-3000:]}"
            )
        say(f"airflow db migrate: {time.monotonic() - started:.0f}s")
        logs = self.work_dir / "logs"
        logs.mkdir()
        self.components = [
            Component(
                "api-server",
                [AIRFLOW, "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
                logs / "api-server.log",
                env,
            ),
            Component("scheduler", [AIRFLOW, "scheduler"], logs / "scheduler.log", env),
            Component("dag-processor", [AIRFLOW, "dag-processor"], logs / "dag-processor.log", env),
        ]
        for n in range(1, self.workers + 1):
            worker_env = {**env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
            self.components.append(
                Component(
                    f"worker{n}",
                    [
                        AIRFLOW,
                        "celery",
                        "worker",
                        "--queues",
                        self.queue,
                        "--concurrency",
                        str(self.concurrency),
                        "--celery-hostname",
                        self.worker_name(n),
                        "--without-gossip",
                    ],
                    logs / f"worker{n}.log",
                    worker_env,
                )
            )
        for component in self.components:
            component.start()
        self.api = Api(self.base_url, ADMIN, self.password)
        deadline = started + timeout
        self._wait("the api-server", deadline, self._api_up)
        self._wait("the banking DAGs", deadline, self._dags_parsed)
        for n in range(1, self.workers + 1):
            self._wait(f"celery worker {n}", deadline, lambda n=n: self._worker_ready(n))
        say(
            f"stack up in {time.monotonic() - started:.0f}s: {self.base_url} (login {ADMIN} / {self.password})"
        )

    def stop(self) -> None:
        if self.api is not None:
            self.api.close()
        for component in reversed(self.components):
            if component.process is not None and component.process.poll() is None:
                try:
                    os.killpg(component.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for component in reversed(self.components):
            if component.process is not None:
                stop_group(component.process, component.name)
        try:
            if self.redis is not None:
                self.redis.close()
        finally:
            try:
                if self.pg is not None:
                    self.pg.close()
            finally:
                if not self.keep_dir:
                    shutil.rmtree(self.work_dir, ignore_errors=True)

    def worker_name(self, n: int) -> str:
        return f"banking-e2e-{self.token}-w{n}@%h"

    def env(self) -> dict[str, str]:
        assert self.pg is not None and self.redis is not None
        passwords = self.home / "passwords.json"
        passwords.write_text(json.dumps({ADMIN: self.password}))
        passwords.chmod(0o600)
        meta = self.pg.admin
        env = checkout_env(
            self.home,
            embedded_postgres.airflow_uri(self.pg.admin, self.banking_db),
            clean=True,
            AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
            AIRFLOW__CORE__FERNET_KEY=_fernet_key(),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.base_url}/execution/",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlalchemy_url(meta, self.meta_db, "postgresql+psycopg2"),
            AIRFLOW__CELERY__BROKER_URL=self.redis.url,
            AIRFLOW__CELERY__RESULT_BACKEND=sqlalchemy_url(meta, self.meta_db, "db+postgresql"),
            AIRFLOW__CELERY__WORKER_CONCURRENCY=str(self.concurrency),
            AIRFLOW__OPERATORS__DEFAULT_QUEUE=self.queue,
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__BASE_URL=self.base_url,
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__API__SECRET_KEY=secrets.token_hex(16),
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
            AIRFLOW__API_AUTH__JWT_EXPIRATION_TIME="86400",
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=str(self.schedule),
            AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK="False",
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="10",
            BANKING_CACHE_DIR=str(self.work_dir / "population-cache"),
        )
        env.update(self.banking_env)
        env.update(self.airflow_env)
        return env

    # --- readiness

    def _wait(self, what: str, deadline: float, ready: Callable[[], bool]) -> None:
        while True:
            for component in self.components:
                component.check_alive()
            try:
                if ready():
                    return
            except (httpx.HTTPError, OSError):
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {c.name}\n{c.tail(1500)}" for c in self.components)
                raise TimeoutError(f"timed out waiting for {what}\n{logs}")
            time.sleep(1)

    def _api_up(self) -> bool:
        assert self.api is not None
        return self.api.client.get("/api/v2/version", timeout=5).status_code == 200

    def _dags_parsed(self) -> bool:
        assert self.api is not None
        dags = {d["dag_id"] for d in self.api.get("/dags", limit=100)["dags"]}
        return {"banking_schema", "banking_transactions"} <= dags

    def _worker_ready(self, n: int) -> bool:
        return re.search(rf"banking-e2e-\S+-w{n}@\S+ ready\.", self.components[2 + n].tail(20000)) is not None

    # --- runs

    def trigger(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, logical_date: datetime | None = None
    ) -> str:
        assert self.api is not None
        self.api.unpause(dag_id)
        response = self.api.trigger(dag_id, conf, logical_date)
        if response.status_code != 200:
            raise RuntimeError(f"trigger {dag_id}: HTTP {response.status_code} {response.text}")
        return response.json()["dag_run_id"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        """Poll the REST API until the run finishes; returns the run. Fails early if a process died."""
        assert self.api is not None
        deadline = time.monotonic() + timeout
        while True:
            for component in self.components:
                component.check_alive()
            run = self.api.run(dag_id, run_id)
            if run["state"] in TERMINAL_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} {run_id} still {run['state']} after {timeout:.0f}s")
            time.sleep(1)

    def run_dag(
        self,
        dag_id: str,
        conf: Mapping[str, Any] | None = None,
        logical_date: datetime | None = None,
        timeout: float = 300,
    ) -> dict[str, Any]:
        """Trigger ``dag_id`` and wait; raises unless the run succeeded."""
        run_id = self.trigger(dag_id, conf, logical_date)
        run = self.wait_run(dag_id, run_id, timeout)
        if run["state"] != "success":
            raise RuntimeError(
                f"{dag_id} {run_id} ended {run['state']}; worker log:\n{self.worker_log()[-4000:]}"
            )
        return run

    def celery_results(self, dag_id: str, run_id: str, timeout: float = 60) -> list[tuple[str, str, str]]:
        """``(task_id, celery task id, Celery state)`` of a finished run's tasks, from the result backend.

        A worker records SUCCESS when its workload returns, which can be a few seconds after the task
        instance itself was marked successful: wait until every task has left PENDING/STARTED.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self.metadata() as conn:
                results = conn.execute(
                    "SELECT ti.task_id, ti.external_executor_id, tm.status FROM task_instance ti "
                    "LEFT JOIN celery_taskmeta tm ON tm.task_id = ti.external_executor_id "
                    "WHERE ti.dag_id = %s AND ti.run_id = %s ORDER BY ti.task_id",
                    (dag_id, run_id),
                ).fetchall()
            if all(status not in (None, "PENDING", "STARTED") for _, _, status in results):
                return results
            if time.monotonic() > deadline:
                return results
            time.sleep(0.5)

    def worker_log(self, n: int = 1) -> str:
        return self.components[2 + n].tail(10**8)

    @contextmanager
    def metadata(self) -> Iterator[psycopg.Connection]:
        assert self.pg is not None
        with self.pg.connect(self.meta_db) as conn:
            yield conn

    @contextmanager
    def banking(self) -> Iterator[psycopg.Connection]:
        assert self.pg is not None
        with self.pg.connect(self.banking_db) as conn:
            yield conn


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


# --------------------------------------------------------------------------- measuring


def measure(
    stack: Stack, runs: int, rate: float, window_minutes: int, start: datetime = MEASURE_START
) -> dict[str, float]:
    """Run ``runs`` windows of ``rate`` x ``window_minutes`` rows one after another through the stack.

    Windows are fixed minutes in the past (``logical_date``), adjacent and non-overlapping, so every
    run loads new rows. Three views of the time: the task instances' own durations (the work), the
    Celery task durations from the workers' logs (how long a worker slot was taken, including the
    task process's start and exit), and each run's start to end (including the scheduler's hand-over
    between tasks). Returns the figures that ``measure`` prints.
    """
    assert stack.api is not None
    task_seconds: dict[str, float] = {"generate": 0.0, "score": 0.0, "load": 0.0}
    rows = run_seconds = 0.0
    run_ids = []
    began = time.monotonic()
    for i in range(runs):
        logical_date = start + timedelta(minutes=window_minutes * (i + 1))
        conf = {"rate_per_minute": rate, "window_minutes": window_minutes}
        run = stack.run_dag("banking_transactions", conf, logical_date, timeout=1800)
        run_ids.append(run["dag_run_id"])
        for ti in stack.api.task_instances("banking_transactions", run["dag_run_id"]):
            task_seconds[ti["task_id"]] += ti["duration"]
        run_seconds += (_ts(run["end_date"]) - _ts(run["start_date"])).total_seconds()
        with stack.banking() as conn:
            (loaded,) = conn.execute(
                "SELECT sum(rows) FROM banking_batches WHERE run_id = %s", (run["dag_run_id"],)
            ).fetchone()
        rows += loaded
        say(f"run {i + 1}/{runs}: {loaded} rows; task seconds so far {json.dumps(task_seconds)}")
    wall = time.monotonic() - began
    slot_seconds = 0.0
    per_worker: dict[str, int] = {}
    celery_ids = [
        cid for run_id in run_ids for _, cid, _ in stack.celery_results("banking_transactions", run_id)
    ]
    deadline = time.monotonic() + 60
    while True:  # a worker logs "succeeded" just after it stored the result: wait for every line
        logs = {n: stack.worker_log(n) for n in range(1, stack.workers + 1)}
        found = {
            cid: (n, float(m.group(1)))
            for cid in celery_ids
            for n, log in logs.items()
            if (m := re.search(rf"execute_workload\[{cid}\] succeeded in ([0-9.]+)s", log))
        }
        if len(found) == len(celery_ids) or time.monotonic() > deadline:
            break
        time.sleep(1)
    for n, seconds in found.values():
        slot_seconds += seconds
        per_worker[f"tasks_on_worker{n}"] = per_worker.get(f"tasks_on_worker{n}", 0) + 1
    if len(found) != len(celery_ids):
        say(f"only {len(found)} of {len(celery_ids)} Celery tasks found in the workers' logs")
        slot_seconds = 0.0
    busy = sum(task_seconds.values())
    figures: dict[str, float] = {
        "runs": runs,
        "rows": rows,
        "rows_per_run": rows / runs,
        **{f"{task}_seconds_mean": seconds / runs for task, seconds in task_seconds.items()},
        **{f"{task}_rows_per_s": rows / seconds for task, seconds in task_seconds.items()},
        "task_seconds_per_run": busy / runs,
        "rows_per_task_second": rows / busy,
        "slot_seconds_per_run": slot_seconds / runs,
        "rows_per_slot_second": rows / slot_seconds if slot_seconds else float("nan"),
        "run_seconds_mean": run_seconds / runs,
        "rows_per_run_second": rows / run_seconds,
        "wall_seconds": wall,
        "rows_per_wall_second": rows / wall,
        **per_worker,
    }
    needed = 1_000_000 / 60  # rows per second for one million transactions per minute
    figures["slots_for_1m_per_min_task_time"] = math.ceil(needed / figures["rows_per_task_second"])
    if slot_seconds:
        figures["slots_for_1m_per_min_slot_time"] = math.ceil(needed / figures["rows_per_slot_second"])
    return figures


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "measure"])
    parser.add_argument("--workers", type=int, default=1, help="Celery workers (processes), default 1")
    parser.add_argument("--concurrency", type=int, default=2, help="task slots per worker, default 2")
    parser.add_argument("--schedule", action="store_true", help="let the scheduler create the scheduled runs")
    parser.add_argument("--keep", action="store_true", help="keep the stack's folder (logs) after stopping")
    parser.add_argument("--dsn", help="admin DSN of the PostgreSQL server to use, or 'embedded'")
    parser.add_argument(
        "--redis-url", help="the Celery broker's URL, or 'start' for a redis-server of its own"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="AIRFLOW__SECTION__KEY=VALUE",
        help="extra Airflow setting",
    )
    parser.add_argument("--runs", type=int, default=5, help="measure: runs of banking_transactions")
    parser.add_argument("--rate", type=float, default=100_000, help="measure: rate_per_minute of each run")
    parser.add_argument("--window-minutes", type=int, default=1, help="measure: window_minutes of each run")
    parser.add_argument(
        "--start",
        type=_ts,
        default=MEASURE_START,
        help="measure: where the first window starts (ISO, with offset), default 2026-11-20T00:00+00:00",
    )
    args = parser.parse_args(argv)

    def _stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    # The stream's and population's settings (BANKING_*) go to every Airflow process.
    banking_env = {
        k: v for k, v in os.environ.items() if k.startswith("BANKING_") and k != "BANKING_CACHE_DIR"
    }
    stack = Stack(
        workers=args.workers,
        concurrency=args.concurrency,
        schedule=args.schedule,
        banking_env=banking_env,
        airflow_env=dict(item.split("=", 1) for item in args.set),
        dsn=args.dsn,
        redis_url=args.redis_url,
        keep_dir=args.keep,
    )
    try:
        with stack:
            stack.run_dag("banking_schema")
            say("banking_schema succeeded")
            if args.command == "up":
                say(f"Airflow UI: {stack.base_url}  login: {ADMIN} / {stack.password}")
                say(f"logs: {stack.work_dir / 'logs'}; Ctrl-C stops everything")
                while True:
                    for component in stack.components:
                        component.check_alive()
                    time.sleep(2)
            figures = measure(stack, args.runs, args.rate, args.window_minutes, args.start)
            print(f"workers: {args.workers}\nconcurrency: {args.concurrency}")
            print(f"rate_per_minute: {args.rate:g}\nwindow_minutes: {args.window_minutes}")
            print(f"first_window_start: {args.start.isoformat()}")
            for name, value in figures.items():
                print(f"{name}: {value:.2f}" if isinstance(value, float) else f"{name}: {value}")
    except KeyboardInterrupt:
        pass
    finally:
        if args.keep:
            say(f"kept {stack.work_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
