"""Least privilege with real logins: the roles banking_schema creates, over TCP with SCRAM passwords.

tests/db/test_roles.py checks the group roles with SET ROLE on the shared (trust, Unix socket)
server. Here a dedicated cluster checks passwords for real: ``banking_pipeline`` runs whole windows
and retention through the DAG's task code as itself and cannot change the schema or roles, and
``banking_dashboard`` can read and nothing else.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from banking import db, tasks
from banking.store import schema
from tests.helpers import SMALL
from tests.reliability.cluster import Cluster, create_cluster, pgserver_bindir
from tests.reliability.helpers import CONN_ENV, reconcile, run_window, set_settings_env, window_of

ADMIN_PASSWORD = "test-only-admin-password"
PASSWORDS = {  # test-only credentials of a throw-away cluster
    "banking_pipeline": "test-only-pipeline-password",
    "banking_dashboard": "test-only-dashboard-password",
}
DBNAME = "banking"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A cluster with SCRAM logins over TCP only, DDL statement logging on, set up by banking_schema's code."""
    root = Path(tempfile.mkdtemp(prefix="banking-roles-"))
    root.chmod(0o755)
    server = create_cluster(
        pgserver_bindir(), root / "pg", ADMIN_PASSWORD, settings={"log_statement": "'ddl'"}
    )
    try:
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DBNAME}")
        with psycopg.connect(server.conninfo(DBNAME), autocommit=True) as conn:
            schema.apply_migrations(conn)
            schema.seed_population(conn, SMALL)
            environ = {
                "BANKING_PIPELINE_PASSWORD": PASSWORDS["banking_pipeline"],
                "BANKING_DASHBOARD_PASSWORD": PASSWORDS["banking_dashboard"],
            }
            created = schema.ensure_login_roles(conn, environ)
            assert created == ["banking_pipeline", "banking_dashboard"]
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def login(cluster: Cluster, role: str, password: str | None = None) -> psycopg.Connection:
    return psycopg.connect(
        cluster.conninfo(DBNAME, user=role, password=password or PASSWORDS[role]), autocommit=True
    )


def refused(conn: psycopg.Connection, statements: list[str]) -> list[str]:
    """The statements that were NOT refused for lack of privilege (each in its own transaction)."""
    allowed = []
    for statement in statements:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            continue
        except psycopg.Error as exc:
            allowed.append(f"{statement} -> {type(exc).__name__}: {exc}")
            continue
        allowed.append(statement)
    return allowed


def test_login_roles_log_in_with_their_password_over_tcp(cluster: Cluster) -> None:
    for role in PASSWORDS:
        with login(cluster, role) as conn:
            who = conn.execute("SELECT current_user, session_user, inet_server_addr()::text").fetchone()
            assert who == (role, role, "127.0.0.1/32")
        with pytest.raises(
            psycopg.OperationalError, match=f'password authentication failed for user "{role}"'
        ):
            login(cluster, role, PASSWORDS[role] + "-wrong")
    for group in ("banking_writer", "banking_reader"):  # NOLOGIN: no password gets them in
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(cluster.conninfo(DBNAME, user=group, password=ADMIN_PASSWORD))


def test_password_rotation_takes_effect(cluster: Cluster) -> None:
    """banking_schema run again with a new password: the old one stops working at once."""
    new = "test-only-rotated-password"
    with psycopg.connect(cluster.conninfo(DBNAME), autocommit=True) as admin:
        schema.ensure_login_roles(admin, {"BANKING_DASHBOARD_PASSWORD": new})
        try:
            with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
                login(cluster, "banking_dashboard")
            with login(cluster, "banking_dashboard", new) as conn:
                assert conn.execute("SELECT count(*) FROM accounts").fetchone()[0] == SMALL.n_accounts
        finally:
            schema.ensure_login_roles(admin, {"BANKING_DASHBOARD_PASSWORD": PASSWORDS["banking_dashboard"]})


def test_login_roles_have_no_admin_attributes_and_one_group(cluster: Cluster) -> None:
    with psycopg.connect(cluster.conninfo(DBNAME), autocommit=True) as admin:
        attributes = admin.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin "
            "FROM pg_roles WHERE rolname LIKE 'banking%%' ORDER BY 1"
        ).fetchall()
        groups = admin.execute(
            "SELECT r.rolname, g.rolname, m.admin_option FROM pg_auth_members m "
            "JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid "
            "WHERE r.rolname LIKE 'banking%%' ORDER BY 1, 2"
        ).fetchall()
    assert attributes == [
        ("banking_dashboard", False, False, False, False, False, True),
        ("banking_pipeline", False, False, False, False, False, True),
        ("banking_reader", False, False, False, False, False, False),
        ("banking_writer", False, False, False, False, False, False),
    ]
    assert groups == [
        ("banking_dashboard", "banking_reader", False),
        ("banking_pipeline", "banking_writer", False),
    ]


def test_dashboard_can_read_but_cannot_write_anything(cluster: Cluster) -> None:
    with psycopg.connect(cluster.conninfo(DBNAME), autocommit=True) as admin:
        tables = admin.execute(
            "SELECT c.relname, (SELECT attname FROM pg_attribute WHERE attrelid = c.oid AND attnum = 1) "
            "FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1"
        ).fetchall()
    assert {"banking_data", "banking_batches", "banking_staging", "accounts", "blacklist"} <= {
        t for t, _ in tables
    }
    statements = [
        stmt
        for table, column in tables
        for stmt in (
            f"INSERT INTO {table} DEFAULT VALUES",
            f'UPDATE {table} SET "{column}" = "{column}" WHERE false',
            f"DELETE FROM {table} WHERE false",
            f"TRUNCATE {table}",
            f"ALTER TABLE {table} ADD COLUMN sneaky int",
            f"DROP TABLE {table}",
        )
    ] + [
        "SELECT payload FROM banking_staging",
        "SELECT * FROM banking_schema_migrations",
        "CREATE TABLE sneaky (id int)",
        "CREATE SCHEMA sneaky",
        "CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE ROLE intruder",
        "GRANT banking_writer TO banking_dashboard",
        "SET ROLE banking_writer",
        "ALTER ROLE banking_dashboard CREATEROLE",
        "SELECT banking_ensure_partitions(now(), now() + interval '1 day')",
        "SELECT banking_drop_partitions_before(current_date)",
        "COPY banking_data TO '/tmp/banking_dump.csv'",
    ]
    with login(cluster, "banking_dashboard") as conn:
        assert refused(conn, statements) == []
        for table in ("banking_data", "banking_batches", "accounts", "cards", "merchants", "blacklist"):
            conn.execute(f"SELECT count(*) FROM {table}")  # reading is allowed


def test_pipeline_runs_windows_and_retention_as_itself(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """banking_pipeline through the task functions: partitions and drops only via SECURITY DEFINER."""
    set_settings_env(monkeypatch)
    password = PASSWORDS["banking_pipeline"]
    monkeypatch.setenv(
        CONN_ENV, f"postgresql://banking_pipeline:{password}@127.0.0.1:{cluster.port}/{DBNAME}"
    )
    with db.hook_connection() as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "banking_pipeline"

    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    recent = max(now - timedelta(minutes=1), now.replace(hour=0, minute=0))
    old = recent - timedelta(days=60)
    old_window = window_of(run_window(old, "scheduled__old"))  # creates the old day's partition
    recent_window = window_of(run_window(recent, "scheduled__recent"))
    old_part, today_part = (f"banking_data_p{d:%Y%m%d}" for d in (old, recent))

    dry = tasks.apply_retention(recent + timedelta(minutes=1), 30, dry_run=True)
    assert dry["partitions"] == [old_part]
    done = tasks.apply_retention(recent + timedelta(minutes=1), 30, dry_run=False)
    assert done["partitions"] == [old_part] and done["batches"] == 1
    # The days before the recent one (none left after retention) sealed, then the recent one itself;
    # the live rules' block (7 days, velocity within the hour before) built for the window after the
    # latest load, and kept there while no load moves it.
    after = recent_window.end
    block = [
        (after + timedelta(minutes=1) - timedelta(days=7)).isoformat(),
        (after - timedelta(hours=1)).isoformat(),
    ]
    assert tasks.seal_closed_days(recent) == {"sealed": [], "block": block}
    day_after = recent.replace(hour=0, minute=0) + timedelta(days=1)
    assert tasks.seal_closed_days(day_after) == {"sealed": [f"{recent:%Y-%m-%d}"], "block": block}

    with login(cluster, "banking_pipeline") as conn:
        # Even a cutoff far in the future never drops the current day.
        assert conn.execute("SELECT banking_drop_partitions_before('2999-01-01')").fetchall() == []
        assert conn.execute(
            "SELECT to_regclass(%s) IS NULL, to_regclass(%s) IS NOT NULL", (old_part, today_part)
        ).fetchone() == (True, True)
        check = reconcile(conn, [recent_window])
        assert check.problems == [] and check.rows > 0
        assert (
            conn.execute(
                "SELECT count(*) FROM banking_data WHERE window_start = %s", (old_window.start,)
            ).fetchone()[0]
            == 0
        )


def test_pipeline_cannot_change_the_schema_or_roles(cluster: Cluster) -> None:
    with login(cluster, "banking_pipeline") as conn:
        partition = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'banking_data'::regclass LIMIT 1"
        ).fetchone()
        statements = [
            "DROP TABLE banking_data",
            "DROP TABLE banking_batches",
            "ALTER TABLE banking_data ADD COLUMN sneaky int",
            "ALTER TABLE banking_batches DROP COLUMN loads",
            "TRUNCATE banking_data",
            "TRUNCATE banking_batches",
            "TRUNCATE banking_staging",
            "CREATE TABLE sneaky (id int)",
            "CREATE SCHEMA sneaky",
            "CREATE TABLE banking_data_p29990101 PARTITION OF banking_data "
            "FOR VALUES FROM ('2999-01-01') TO ('2999-01-02')",
            "CREATE OR REPLACE FUNCTION banking_ensure_partitions(timestamptz, timestamptz) "
            "RETURNS integer LANGUAGE sql AS 'SELECT 0'",
            "DROP FUNCTION banking_drop_partitions_before(date)",
            "CREATE ROLE intruder",
            "CREATE ROLE intruder SUPERUSER",
            "ALTER ROLE banking_pipeline SUPERUSER",
            "ALTER ROLE banking_pipeline CREATEROLE",
            "GRANT banking_reader TO banking_pipeline",
            "SET ROLE postgres",
            "DELETE FROM accounts",
            "UPDATE blacklist SET reason = 'none'",
            "INSERT INTO banking_population (version, seed, accounts, merchants, cards, blacklisted) "
            "VALUES ('x', 1, 1, 1, 1, 1)",
            "COPY banking_data TO '/tmp/banking_dump.csv'",
            "COPY banking_staging FROM PROGRAM 'id'",
            "ALTER SYSTEM SET log_statement = 'none'",
        ]
        if partition:
            statements.append(f"DROP TABLE {partition[0]}")
        assert refused(conn, statements) == []


def test_wrong_password_is_reported_without_the_password(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "test-only-wrong-password"
    monkeypatch.setenv(CONN_ENV, f"postgresql://banking_pipeline:{wrong}@127.0.0.1:{cluster.port}/{DBNAME}")
    with pytest.raises(db.DatabaseConfigError) as failed:
        db.hook_connection()
    assert 'password authentication failed for user "banking_pipeline"' in str(failed.value)
    assert wrong not in str(failed.value) and CONN_ENV in str(failed.value)
    monkeypatch.setenv(
        CONN_ENV,
        f"postgresql://banking_pipeline:{PASSWORDS['banking_pipeline']}@127.0.0.1:{cluster.port}/{DBNAME}",
    )
    with db.hook_connection() as conn:  # fixed: the retry gets in
        assert conn.execute("SELECT current_user").fetchone()[0] == "banking_pipeline"


def test_login_passwords_do_not_reach_the_server_log(cluster: Cluster) -> None:
    log = cluster.log.read_text(errors="replace")
    assert "ALTER ROLE" in log, "the cluster logs DDL statements"
    leaked = [role for role, password in PASSWORDS.items() if password in log]
    assert leaked == []
