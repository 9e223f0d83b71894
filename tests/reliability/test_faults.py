"""Faults: a session killed mid-COPY, PostgreSQL stopped and restarted, a missing or unreachable database.

Each fault must leave no partial window, no duplicate and no lost window, with ``banking_batches``
reconciling exactly with ``banking_data``; the failed task raises an error Airflow retries (not a
permanent failure), and the retry completes once the database is back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from scripts import embedded_postgres

from banking import db, tasks
from banking.store.partitions import ensure_partitions
from banking.stream import population
from banking.stream.settings import from_env
from tests.helpers import DAY
from tests.reliability.cluster import free_port
from tests.reliability.helpers import (
    CONN_ENV,
    Background,
    BankingDb,
    copy_blocked_mid_window,
    params,
    reconcile,
    run_window,
    set_settings_env,
    staged,
    wait_for_blocked_copy,
    window_of,
    window_rows,
)

NOON = DAY.replace(hour=12)
BIG_RATE = 3000  # rows per minute: the COPY has a middle to stop in


def assert_retryable(exc: BaseException) -> None:
    """The DAG's ``fail_fast`` lets the error through, so Airflow retries the task."""
    with pytest.raises(type(exc)) as raised:
        with tasks.fail_fast():
            raise exc
    assert raised.value is exc


def test_loader_session_terminated_mid_copy(banking_env: BankingDb) -> None:
    conn = banking_env.conn
    earlier = window_of(run_window(NOON - timedelta(minutes=1)))
    earlier_rows = window_rows(conn, earlier)
    manifest = tasks.generate(params(rate_per_minute=BIG_RATE), NOON, NOON + timedelta(minutes=1), None)
    tasks.score(manifest)
    window = window_of(manifest)
    ensure_partitions(conn, window)  # the blocking row needs the day's partition

    with copy_blocked_mid_window(banking_env.conninfo, manifest):
        load = Background(tasks.load, manifest, "scheduled__noon")
        copy = wait_for_blocked_copy(conn, banking_env.name)
        assert 0 < copy.tuples_processed < manifest["rows"], "the COPY must be stopped part-way"
        assert conn.execute("SELECT pg_terminate_backend(%s)", (copy.pid,)).fetchone()[0]
        load.join()

    assert isinstance(load.error, psycopg.OperationalError), load.error
    assert "connection" in str(load.error)  # "terminating connection" or "server closed the connection"
    assert_retryable(load.error)
    assert window_rows(conn, window) == [], "part of the window became visible"
    assert (
        conn.execute(
            "SELECT count(*) FROM banking_batches WHERE window_start = %s", (window.start,)
        ).fetchone()[0]
        == 0
    )
    assert staged(conn, window) == 1, "the staged payload must survive for the retry"

    retry = tasks.load(manifest, "scheduled__noon")  # Airflow's retry of the load task
    assert retry["rows"] == manifest["rows"] and retry["replaced"] == 0
    assert window_rows(conn, earlier) == earlier_rows
    check = reconcile(conn, [earlier, window])
    assert check.problems == [] and check.rows == len(earlier_rows) + manifest["rows"]


@pytest.fixture
def own_server(monkeypatch: pytest.MonkeyPatch, airflow_home: Path) -> Iterator[Path]:
    """A dedicated embedded PostgreSQL (this test stops it), as ``banking_db``; yields its data folder."""
    tmp = Path(tempfile.mkdtemp(prefix="banking-fault-pg-"))
    os.chmod(tmp, 0o755)  # as root, pgserver runs the server as its own OS user
    data = tmp / "pgdata"
    server, admin = embedded_postgres.start(data)
    try:
        embedded_postgres.ensure_database(admin, "banking")
        monkeypatch.setenv("AIRFLOW_HOME", str(airflow_home))
        set_settings_env(monkeypatch)
        monkeypatch.setenv(CONN_ENV, embedded_postgres.airflow_uri(admin, "banking"))
        tasks.set_up_schema(NOON, days_ahead=0)
        yield data
    finally:
        embedded_postgres.start(data)[0].cleanup()  # whatever state the test left it in
        shutil.rmtree(tmp, ignore_errors=True)


def stop(data: Path) -> None:
    server, _ = embedded_postgres.start(data)  # this process's handle on the running server
    server.cleanup()  # pg_ctl stop (fast): sessions are terminated, open transactions roll back


def start(data: Path) -> psycopg.Connection:
    _, admin = embedded_postgres.start(data)
    return psycopg.connect(make_conninfo(**{**admin, "dbname": "banking"}), autocommit=True)


def test_postgres_stopped_and_restarted_during_runs(own_server: Path) -> None:
    data = own_server
    first = run_window(NOON)

    # Down before the score task: it fails with what to check; Airflow's retry succeeds once it is back.
    second = tasks.generate(params(), NOON + timedelta(minutes=1), NOON + timedelta(minutes=2), None)
    stop(data)
    with pytest.raises(db.DatabaseConfigError, match="cannot reach the database") as down:
        tasks.score(second)
    assert CONN_ENV in str(down.value) and "host, port" in str(down.value)
    assert_retryable(down.value)
    start(data).close()
    tasks.score(second)

    # Down before the load task.
    stop(data)
    with pytest.raises(db.DatabaseConfigError, match="cannot reach the database"):
        tasks.load(second, "scheduled__second")
    with start(data) as conn:
        assert staged(conn, window_of(second)) == 1, "the staged payload must survive a restart"
    tasks.load(second, "scheduled__second")

    # Stopped while the load's COPY is half-way: the transaction rolls back, the retry loads it.
    third = tasks.generate(
        params(rate_per_minute=BIG_RATE), NOON + timedelta(minutes=2), NOON + timedelta(minutes=3), None
    )
    tasks.score(third)
    window = window_of(third)
    with start(data) as conn:
        conninfo = conn.info.dsn
        with copy_blocked_mid_window(conninfo, third):
            load = Background(tasks.load, third, "scheduled__third")
            assert wait_for_blocked_copy(conn, "banking").tuples_processed > 0
            stop(data)
            load.join()
    assert isinstance(load.error, psycopg.OperationalError), load.error
    assert_retryable(load.error)

    with start(data) as conn:
        assert window_rows(conn, window) == [] and staged(conn, window) == 1
        tasks.load(third, "scheduled__third")
        check = reconcile(conn, [window_of(first), window_of(second), window])
        assert check.problems == [] and check.rows == first["rows"] + second["rows"] + third["rows"]
        assert conn.execute("SELECT sum(loads), count(*) FROM banking_batches").fetchone() == (3, 3)


def test_missing_connection_then_fixed(banking_env: BankingDb, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tasks.generate(params(), NOON, NOON + timedelta(minutes=1), None)
    monkeypatch.delenv(CONN_ENV)
    for task in (lambda: tasks.score(manifest), lambda: tasks.load(manifest, "r")):
        with pytest.raises(db.DatabaseConfigError, match=f"'banking_db' is not defined. Set {CONN_ENV}") as e:
            task()
        assert_retryable(e.value)
    assert staged(banking_env.conn, window_of(manifest)) == 0

    monkeypatch.setenv(CONN_ENV, banking_env.uri)  # fixed: the task's retry goes through
    tasks.score(manifest)
    assert tasks.load(manifest, "r")["rows"] == manifest["rows"] > 0


def test_unreachable_host_then_fixed(banking_env: BankingDb, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = tasks.generate(params(), NOON, NOON + timedelta(minutes=1), None)
    port = free_port()  # nothing listens there
    monkeypatch.setenv(CONN_ENV, f"postgresql://postgres@127.0.0.1:{port}/{banking_env.name}")
    with pytest.raises(db.DatabaseConfigError) as e:
        tasks.score(manifest)
    message = str(e.value)
    assert "cannot reach the database" in message and f'"127.0.0.1", port {port}' in message
    assert CONN_ENV in message and "sslmode" in message
    assert_retryable(e.value)

    monkeypatch.setenv(CONN_ENV, banking_env.uri)
    tasks.score(manifest)
    tasks.load(manifest, "r")
    assert reconcile(banking_env.conn, [window_of(manifest)]).problems == []


def test_corrupt_population_cache_is_rebuilt(
    banking_env: BankingDb, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A truncated cache file (a worker killed while writing it elsewhere) must not change the batch."""
    window = (NOON, NOON + timedelta(minutes=1))
    expected = tasks.generate(params(), *window, None)
    monkeypatch.setenv("BANKING_CACHE_DIR", str(tmp_path))
    version = from_env().population_version
    cache = population._cache_file(version)
    assert cache is not None and cache.parent == tmp_path
    population._population.cache_clear()
    try:
        assert tasks.generate(params(), *window, None) == expected  # builds and caches it
        whole = cache.read_bytes()
        ids = population._load(version, cache).account_id
        for broken in (whole[: len(whole) // 2], b"not a population", b""):
            cache.write_bytes(broken)
            population._population.cache_clear()
            assert tasks.generate(params(), *window, None) == expected
            rebuilt = population._load(version, cache)  # the rebuilt population is cached again
            assert np.array_equal(rebuilt.account_id, ids)
    finally:
        population._population.cache_clear()


def test_postgres_restarted_during_a_catch_up(own_server: Path) -> None:
    """The first scheduled run after downtime loads six missed minutes; PostgreSQL stops half-way
    through its COPY: no minute of the catch-up is there, the earlier one is untouched; the retry
    loads them all, and the next scheduled run goes on from there."""
    data = own_server
    first = tasks.generate(params(), NOON, NOON + timedelta(minutes=1), None, tasks.SCHEDULED)
    tasks.score(first)
    tasks.load(first, "scheduled__first")
    catch_up = tasks.generate(
        params(rate_per_minute=BIG_RATE),
        NOON + timedelta(minutes=6),
        NOON + timedelta(minutes=7),
        None,
        tasks.SCHEDULED,
    )
    window = window_of(catch_up)
    assert (window.start, window.end) == (NOON + timedelta(minutes=1), NOON + timedelta(minutes=7))
    tasks.score(catch_up)
    with start(data) as conn:
        with copy_blocked_mid_window(conn.info.dsn, catch_up):
            load = Background(tasks.load, catch_up, "scheduled__catch_up")
            assert wait_for_blocked_copy(conn, "banking").tuples_processed > 0
            stop(data)
            load.join()
    assert isinstance(load.error, psycopg.OperationalError), load.error
    with start(data) as conn:
        assert conn.execute("SELECT window_start, loads FROM banking_batches").fetchall() == [(NOON, 1)]
        assert conn.execute(
            'SELECT count(*) FROM banking_data WHERE "timestamp" >= %s', (window.start,)
        ).fetchone() == (0,)
        tasks.load(catch_up, "scheduled__catch_up")
        after = tasks.generate(
            params(), NOON + timedelta(minutes=9), NOON + timedelta(minutes=10), None, tasks.SCHEDULED
        )
        assert window_of(after).start == NOON + timedelta(minutes=7)
        tasks.score(after)
        tasks.load(after, "scheduled__after")
        minutes = conn.execute("SELECT window_start, loads FROM banking_batches ORDER BY 1").fetchall()
        assert minutes == [(NOON + timedelta(minutes=i), 1) for i in range(10)]
        rows = conn.execute("SELECT count(*), count(DISTINCT uniq_id) FROM banking_data").fetchone()
        assert rows[0] == rows[1] == first["rows"] + catch_up["rows"] + after["rows"]
