"""A PostgreSQL server for the tests: ``BANKING_TEST_DSN`` when set, else an embedded one (pgserver)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from scripts import embedded_postgres


class TestServer:
    """Hands out fresh databases on one server; drops them when closed."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self._server = None
        self._tmp: str | None = None
        dsn = os.environ.get("BANKING_TEST_DSN")
        if dsn:
            self.admin = conninfo_to_dict(dsn)
        else:
            self._tmp = tempfile.mkdtemp(prefix="banking-test-pg-")
            os.chmod(self._tmp, 0o755)  # as root, pgserver runs the server as its own OS user
            self._server, self.admin = embedded_postgres.start(Path(self._tmp) / "pgdata")
        self.created: list[str] = []

    def conninfo(self, dbname: str, **overrides: str) -> str:
        return make_conninfo(**{**self.admin, "dbname": dbname, **overrides})

    def uri(self, dbname: str) -> str:
        return embedded_postgres.airflow_uri(self.admin, dbname)

    def create_database(self, prefix: str = "banking_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        embedded_postgres.ensure_database(self.admin, name)
        self.created.append(name)
        return name

    @contextmanager
    def connect(self, dbname: str, **overrides: str) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.conninfo(dbname, **overrides), autocommit=True) as conn:
            yield conn

    def close(self) -> None:
        try:
            with psycopg.connect(make_conninfo(**self.admin), autocommit=True) as conn:
                for name in self.created:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            if self._server is not None:
                self._server.cleanup()
            if self._tmp:
                shutil.rmtree(self._tmp, ignore_errors=True)
