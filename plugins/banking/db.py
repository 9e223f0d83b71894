"""Database access: the connection through Airflow's PostgresHook, and the project's ``.sql`` files.

Every SQL statement lives in ``include/sql``; code refers to it by its path without the suffix,
for example ``sql("load/delete_window")``.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from banking.paths import SQL_DIR

if TYPE_CHECKING:
    import psycopg

DEFAULT_CONN_ID = "banking_db"


class DatabaseConfigError(RuntimeError):
    """The database connection is missing or cannot be reached; the message says what to set."""


@cache
def sql(name: str) -> str:
    """The text of ``include/sql/<name>.sql``."""
    path = (SQL_DIR / f"{name}.sql").resolve()
    if SQL_DIR.resolve() not in path.parents:
        raise ValueError(f"SQL file name {name!r} leaves {SQL_DIR}")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no SQL file {path}") from None


def sql_statements(name: str) -> list[str]:
    """The statements of a multi-statement ``.sql`` file (each ends with ``;`` at the end of a line).

    Statements with parameters must be sent one at a time; files that use this hold no ``$$`` bodies.
    """
    return split_statements(sql(name))


def split_statements(text: str) -> list[str]:
    """The statements of a multi-statement SQL text, as :func:`sql_statements` reads them."""
    statements, current = [], []
    for line in text.splitlines():
        current.append(line)
        if line.rstrip().endswith(";"):
            body = "\n".join(current).strip()
            if any(part.strip() and not part.strip().startswith("--") for part in current):
                statements.append(body)
            current = []
    return statements


def hook_connection(conn_id: str = DEFAULT_CONN_ID) -> psycopg.Connection:
    """An autocommit psycopg 3 connection from the Airflow connection ``conn_id``.

    Autocommit, so that each ``with conn.transaction()`` block of the package is a real transaction.
    """
    import psycopg
    from airflow.exceptions import AirflowNotFoundException
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    env_var = f"AIRFLOW_CONN_{conn_id.upper()}"
    hook = PostgresHook(postgres_conn_id=conn_id)
    try:
        conn = hook.get_conn()
    except AirflowNotFoundException:
        raise DatabaseConfigError(
            f"Airflow connection {conn_id!r} is not defined. Set {env_var} "
            "(e.g. postgresql://user:password@host:5432/banking) or add it under Admin > Connections."
        ) from None
    except psycopg.OperationalError as exc:
        raise DatabaseConfigError(
            f"cannot reach the database of Airflow connection {conn_id!r}: {str(exc).strip()}. "
            f"Check host, port, credentials and sslmode in {env_var} or the connection's settings; "
            "the task's retry will succeed once the database answers."
        ) from exc
    if not isinstance(conn, psycopg.Connection):
        raise DatabaseConfigError(
            "the Postgres hook returned a psycopg2 connection; install psycopg 3 and SQLAlchemy 2"
        )
    conn.autocommit = True
    return conn
