"""Throw-away PostgreSQL clusters on 127.0.0.1 with password (SCRAM) logins and, optionally, TLS.

The shared test server (tests/pg.py) only listens on a Unix socket with ``trust`` auth, so it cannot
show a password being checked or a TLS handshake. These clusters can: initdb with a superuser
password, a ``pg_hba.conf`` that only accepts SCRAM over TCP (and, with TLS, only over ``hostssl``),
and no Unix socket at all. As root the server runs as the OS user ``pgserver``, like the pgserver wheel.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import make_conninfo

SERVER_USER = "pgserver"
SUPERUSER = "postgres"


def pgserver_bindir() -> Path:
    """The binaries of the pgserver wheel (built without OpenSSL)."""
    from pgserver._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH)


def has_openssl(bindir: Path) -> bool:
    """True when the PostgreSQL of ``bindir`` was built with OpenSSL (``pg_config --configure``)."""
    pg_config = bindir / "pg_config"
    if not (bindir / "postgres").exists() or not pg_config.exists():
        return False
    try:
        out = subprocess.run(
            [str(pg_config), "--configure"], capture_output=True, text=True, timeout=10
        ).stdout
    except OSError:
        return False
    return "--with-openssl" in out or "--with-ssl=openssl" in out


def ssl_bindir() -> Path | None:
    """A PostgreSQL with TLS support: ``BANKING_TLS_PG_BINDIR``, the pgserver wheel, or an installed one."""
    candidates = [os.environ.get("BANKING_TLS_PG_BINDIR"), str(pgserver_bindir())]
    for tool in ("pg_config", "initdb"):
        found = shutil.which(tool)
        if found:
            candidates.append(str(Path(found).resolve().parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    candidates += sorted(glob.glob("/usr/pgsql-*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and has_openssl(Path(candidate)):
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> str | None:
    """As root, the OS user the server runs as (initdb and postgres refuse to run as root)."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_user_exists

    ensure_user_exists(SERVER_USER)
    return SERVER_USER


@dataclass
class Cluster:
    """A running cluster; ``stop()`` it when done."""

    bindir: Path
    root: Path
    port: int
    password: str
    os_user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def conninfo(
        self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None, **extra: str
    ) -> str:
        return make_conninfo(
            host=extra.pop("host", "127.0.0.1"),
            port=str(self.port),
            dbname=dbname,
            user=user,
            password=self.password if password is None else password,
            connect_timeout="10",
            **extra,
        )

    def _run(self, *args: str) -> None:
        """Run a PostgreSQL tool as the server's OS user; its output goes to ``commands.log``."""
        out = self.root / "commands.log"
        with out.open("ab") as f:  # a file, not a pipe: pg_ctl's server child would keep a pipe open
            done = subprocess.run(
                [str(self.bindir / args[0]), *args[1:]],
                user=self.os_user,
                group=self.os_user,
                extra_groups=[] if self.os_user else None,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=f,
                stderr=subprocess.STDOUT,
                timeout=60,
            )
        if done.returncode:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed:\n{out.read_text(errors='replace')[-2000:]}\n{log}")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop")


def create_cluster(
    bindir: Path,
    root: Path,
    password: str,
    tls_files: dict[str, bytes] | None = None,
    settings: dict[str, str] | None = None,
) -> Cluster:
    """initdb a cluster in ``root`` and start it on a free port of 127.0.0.1.

    ``tls_files`` maps file names in the data folder (``server.crt``, ``server.key``) to their
    contents and turns ``ssl`` on; ``pg_hba.conf`` then refuses every connection without TLS.
    """
    os_user = _server_user()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    for parent in root.parents:  # the server user must be able to reach its folder (as pgserver does)
        if parent.stat().st_mode & 0o055 != 0o055:
            parent.chmod(parent.stat().st_mode | 0o055)
    cluster = Cluster(bindir, root, free_port(), password, os_user)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if os_user:
        entry = pwd.getpwnam(os_user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    pwfile.chmod(0o600)
    cluster._run(
        "initdb",
        "-D",
        str(cluster.data),
        "-U",
        SUPERUSER,
        "--auth=scram-sha-256",
        f"--pwfile={pwfile}",
        "--encoding=UTF8",
        "--no-sync",
        "--no-instructions",
    )
    pwfile.unlink()
    conf = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(cluster.port),
        "unix_socket_directories": "''",
        "password_encryption": "'scram-sha-256'",
        "fsync": "off",
        "max_connections": "30",
        **(settings or {}),
    }
    if tls_files:
        conf.update(ssl="on", ssl_cert_file="'server.crt'", ssl_key_file="'server.key'")
        conf["ssl_min_protocol_version"] = "'TLSv1.2'"
        hba = "hostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject\n"
    else:
        hba = "host all all 127.0.0.1/32 scram-sha-256\n"
    with (cluster.data / "postgresql.conf").open("a") as f:
        f.writelines(f"{k} = {v}\n" for k, v in conf.items())
    (cluster.data / "pg_hba.conf").write_text(hba)
    for name, content in (tls_files or {}).items():
        path = cluster.data / name
        path.write_bytes(content)
        if os_user:
            entry = pwd.getpwnam(os_user)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(0o600)
    cluster.start()
    return cluster
