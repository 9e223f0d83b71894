"""Helpers of the reliability tests: the DAG's task functions in process, the audit, blocked COPYs.

``banking.tasks`` reaches the database through Airflow's ``banking_db`` connection, so the tests set
``AIRFLOW_CONN_BANKING_DB`` (and the ``BANKING_*`` settings of the small test population) with
``monkeypatch`` (:func:`set_settings_env`), exactly as a worker's environment would.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from scripts.soak import Audit, audit

from banking import pipeline, tasks
from banking.db import sql
from banking.model import Window
from banking.store import copy_format, staging
from banking.stream.settings import ENV_PREFIX, GeneratorSettings
from tests.helpers import SMALL

CONN_ENV = "AIRFLOW_CONN_BANKING_DB"
MINUTE = timedelta(minutes=1)


def set_settings_env(monkeypatch: pytest.MonkeyPatch, settings: GeneratorSettings = SMALL) -> None:
    """``BANKING_*`` for ``settings``; every other ``BANKING_*`` variable is removed."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for name, value in settings.as_dict().items():
        monkeypatch.setenv(ENV_PREFIX + name.upper(), str(value))


@dataclass
class BankingDb:
    """A migrated, seeded database that ``banking_db`` points at."""

    name: str
    conn: psycopg.Connection  # admin, autocommit
    uri: str
    conninfo: str


def params(**overrides: Any) -> dict[str, Any]:
    """Trigger params as the DAG hands them to ``generate``: every param, unset ones as None."""
    return {**dict.fromkeys(tasks.TRIGGER_PARAMS), **overrides}


def run_window(start: datetime, run_id: str = "manual__test", **overrides: Any) -> dict[str, Any]:
    """generate -> score -> load of the one-minute window at ``start``; returns the manifest."""
    manifest = tasks.generate(params(**overrides), start, start + MINUTE, None)
    tasks.score(manifest)
    tasks.load(manifest, run_id)
    return manifest


def window_of(manifest: dict[str, Any]) -> Window:
    return Window(
        datetime.fromisoformat(manifest["window_start"]), datetime.fromisoformat(manifest["window_end"])
    )


def window_rows(conn: psycopg.Connection, window: Window) -> list[tuple]:
    return conn.execute(
        "SELECT * FROM banking_data WHERE window_start = %s AND window_end = %s ORDER BY uniq_id",
        (window.start, window.end),
    ).fetchall()


def audit_row(conn: psycopg.Connection, window: Window) -> list[tuple]:
    """The window's audit rows without the per-load columns (times, run id, load count)."""
    return conn.execute(
        "SELECT window_start, window_end, rows, approved, review, rejected, injected_fraud, amount, "
        "rule_set_version, settings_digest, population_version FROM banking_batches "
        "WHERE window_start = %s AND window_end = %s",
        (window.start, window.end),
    ).fetchall()


def loads(conn: psycopg.Connection, window: Window) -> list[int]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT loads FROM banking_batches WHERE window_start = %s AND window_end = %s",
            (window.start, window.end),
        )
    ]


def staged(conn: psycopg.Connection, window: Window) -> int:
    return conn.execute(
        "SELECT count(*) FROM banking_staging WHERE window_start = %s AND window_end = %s",
        (window.start, window.end),
    ).fetchone()[0]


def reconcile(conn: psycopg.Connection, windows: list[Window]) -> Audit:
    """scripts/soak.py's audit over the span of ``windows`` (each must be there exactly once)."""
    since = min(w.start for w in windows)
    until = max(w.end for w in windows)
    return audit(conn, since, until, [(w.start, w.end) for w in windows])


@contextmanager
def copy_blocked_mid_window(conninfo: str, manifest: dict[str, Any]) -> Iterator[psycopg.Connection]:
    """Make the load's COPY of the manifest's window stop halfway through, until the block is released.

    Another session COPYs one row from the middle of the window (regenerated, with its staged
    scores) and keeps its transaction open: the loader's COPY inserts the rows before it, then
    waits on that row's primary key. The block is rolled back (or dies with its server) on exit.
    """
    m = pipeline.Manifest.from_xcom(manifest)
    blocker = psycopg.connect(conninfo)  # not autocommit: the row stays uncommitted
    try:
        summary, packed = blocker.execute(
            "SELECT summary, payload FROM banking_staging WHERE window_start = %s AND window_end = %s",
            (m.window.start, m.window.end),
        ).fetchone()
        batch = pipeline.regenerate(m)
        middle = range(len(batch) // 2, len(batch) // 2 + 1)
        payload = copy_format.encode_rows(
            batch, staging.unpack_scores(packed), summary["rule_set_version"], middle
        )
        with blocker.cursor() as cur, cur.copy(sql("load/copy_banking_data")) as copy:
            copy.write(payload)
        yield blocker
    finally:
        if not blocker.closed:
            try:
                blocker.rollback()
            except psycopg.OperationalError:
                pass  # its server went away
            blocker.close()


@dataclass
class BlockedCopy:
    pid: int
    tuples_processed: int


def wait_for_blocked_copy(monitor: psycopg.Connection, dbname: str, timeout: float = 30.0) -> BlockedCopy:
    """The backend whose ``COPY banking_data`` waits on a lock, and how many rows it has processed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = monitor.execute(
            "SELECT a.pid, coalesce(p.tuples_processed, 0) FROM pg_stat_activity a "
            "LEFT JOIN pg_stat_progress_copy p USING (pid) "
            "WHERE a.datname = %s AND a.query ILIKE %s AND a.wait_event_type = 'Lock'",
            (dbname, "%COPY banking_data%"),
        ).fetchone()
        if row:
            return BlockedCopy(*row)
        time.sleep(0.05)
    raise AssertionError(f"no COPY into banking_data waited on a lock within {timeout}s")


class Background:
    """Run a callable in a thread and keep its result or exception."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, *args), daemon=True)
        self._thread.start()

    def _run(self, fn: Any, *args: Any) -> None:
        try:
            self.result = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.error = exc

    def join(self, timeout: float = 60.0) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the background call did not finish"
