"""Two loads at once: the first holds its locks uncommitted while a second one runs in a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg

from tests.pg import TestServer


def second_waits(
    pg: TestServer,
    dbname: str,
    observer: psycopg.Connection,
    first: Callable[[psycopg.Connection], object],
    second: Callable[[psycopg.Connection], int],
    lock: str,
) -> tuple[list[tuple], list[object]]:
    """Run ``first`` without committing, start ``second`` on its own connection, and wait (up to 20 s)
    until an advisory lock keyed ``hashtext(lock)`` is waited for; then commit ``first``.

    Returns the waiting locks as (is ``lock``, key) and what ``second`` returned or raised."""
    outcome: list[object] = []
    with pg.connect(dbname) as held:
        held.autocommit = False
        first(held)  # not committed: its locks are held

        def run_second() -> None:
            try:
                with pg.connect(dbname) as conn:
                    outcome.append(second(conn))
            except BaseException as exc:  # noqa: BLE001 - the caller asserts on it
                outcome.append(exc)

        thread = threading.Thread(target=run_second)
        thread.start()
        waiting: list[tuple] = []
        for _ in range(400):
            waiting = observer.execute(
                "SELECT classid::bigint = hashtext(%s)::oid::bigint, objid::bigint "
                "FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                (lock,),
            ).fetchall()
            if waiting:
                break
            thread.join(0.05)
        held.commit()
        thread.join(60)
    return waiting, outcome
