"""An embedded PostgreSQL server (the ``pgserver`` wheel) for ``make run`` and the tests.

Used only when no database is configured: ``make run`` keeps its data in ``.data/postgres``
between starts, the tests use a throw-away folder. The server listens on a Unix socket in its
data folder; :func:`airflow_uri` turns that into a connection URI Airflow accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def start(data_dir: Path, keep_running: bool = False) -> tuple[Any, dict[str, str]]:
    """Start (or reuse) the server in ``data_dir``; returns it and its admin connection parameters.

    With ``keep_running`` the server outlives this process (stop it with ``server.cleanup()``).
    """
    import pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir)
    server = pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")
    return server, conninfo_to_dict(server.get_uri())


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop processes that died without stopping the server from pgserver's list of its users.

    pgserver stops the server when its last user exits, and keeps the users' pids in a file; a
    process killed with SIGKILL stays in that list forever, and the server would never stop.
    """
    import psutil

    handles = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def ensure_database(admin: dict[str, str], dbname: str) -> None:
    """Create ``dbname`` unless it exists."""
    with psycopg.connect(make_conninfo(**admin), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def airflow_uri(params: dict[str, str], dbname: str) -> str:
    """A ``postgresql://`` URI for an Airflow connection; a socket folder becomes an encoded host."""
    host = quote(params.get("host") or "localhost", safe="")
    user = quote(params.get("user") or "postgres", safe="")
    password = params.get("password")
    auth = f"{user}:{quote(password, safe='')}" if password else user
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{auth}@{host}{port}/{quote(dbname, safe='')}"
