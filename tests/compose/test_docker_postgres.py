"""The compose stack's database set-up on a fresh PostgreSQL cluster of its own, with passwords
checked: docker/postgres creates the two databases and their owners; the banking owner (no
superuser) runs what banking_schema runs; Grafana's login role then reads and nothing more."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pgserver
import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from scripts import embedded_postgres

from banking import pipeline
from banking.model import Window
from banking.rules.rule_set import RuleSet
from banking.store import schema
from grafana import build_dashboard as bd
from tests.compose.helpers import ROOT
from tests.grafana.macros import TimeRange, expand
from tests.helpers import DAY, SMALL

PSQL_BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"
PASSWORDS = {
    "AIRFLOW_DB_PASSWORD": "airflow-test-only",
    "BANKING_DB_PASSWORD": "banking-test-only",
    "BANKING_DASHBOARD_PASSWORD": "dashboard-test-only",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, str]]:
    """A new PostgreSQL cluster initialised like the compose stack's, with password authentication."""
    tmp = tempfile.mkdtemp(prefix="banking-compose-pg-")
    os.chmod(tmp, 0o755)  # as root, pgserver runs the server as its own OS user
    server, admin = embedded_postgres.start(Path(tmp) / "pgdata")
    try:
        result = subprocess.run(
            ["bash", str(ROOT / "docker" / "postgres" / "init-databases.sh")],
            env={
                **os.environ,
                **PASSWORDS,
                "PATH": f"{PSQL_BIN}{os.pathsep}{os.environ['PATH']}",
                "PGHOST": admin["host"],
                "POSTGRES_USER": admin["user"],
                "BANKING_CREATE_DATABASES_SQL": str(ROOT / "docker" / "postgres" / "create-databases.sql"),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        # From now on every role but the superuser logs in with its password, as in the container.
        hba = Path(admin["host"]) / "pg_hba.conf"
        hba.write_text(f"local all {admin['user']} trust\nlocal all all scram-sha-256\n")
        with psycopg.connect(make_conninfo(**admin), autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        yield admin
    finally:
        server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def connect(admin: dict[str, str], user: str, password: str, dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        make_conninfo(host=admin["host"], user=user, password=password, dbname=dbname), autocommit=True
    )


def test_owners_and_databases(cluster: dict[str, str]) -> None:
    with psycopg.connect(make_conninfo(**cluster), autocommit=True) as conn:
        owners = dict(
            conn.execute(
                "SELECT d.datname, r.rolname FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                "WHERE d.datname IN ('airflow', 'banking')"
            ).fetchall()
        )
        roles = {
            name: (superuser, createrole)
            for name, superuser, createrole in conn.execute(
                "SELECT rolname, rolsuper, rolcreaterole FROM pg_roles WHERE rolname IN ('airflow', 'banking')"
            ).fetchall()
        }
    assert owners == {"airflow": "airflow", "banking": "banking"}
    assert roles == {"airflow": (False, False), "banking": (False, True)}
    with connect(cluster, "airflow", PASSWORDS["AIRFLOW_DB_PASSWORD"], "airflow") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "airflow"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect(cluster, "banking", "wrong", "banking")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        connect(cluster, "banking", PASSWORDS["BANKING_DB_PASSWORD"], "airflow")


def test_banking_owner_sets_up_the_schema_and_grafana_reads(
    cluster: dict[str, str], rule_set: RuleSet
) -> None:
    with connect(cluster, "banking", PASSWORDS["BANKING_DB_PASSWORD"], "banking") as owner:
        # What banking_schema does, as the banking_db connection's non-superuser owner.
        assert schema.apply_migrations(owner)
        environ = {"BANKING_DASHBOARD_PASSWORD": PASSWORDS["BANKING_DASHBOARD_PASSWORD"]}
        assert schema.ensure_login_roles(owner, environ) == ["banking_dashboard"]
        assert schema.ensure_login_roles(owner, environ) == ["banking_dashboard"]  # idempotent
        schema.seed_population(owner, SMALL)
        start = DAY.replace(hour=9)
        for i in range(3):
            window = Window(start + timedelta(minutes=i), start + timedelta(minutes=i + 1))
            pipeline.run_window(owner, SMALL, rule_set, window)

    with connect(cluster, "banking_dashboard", PASSWORDS["BANKING_DASHBOARD_PASSWORD"], "banking") as grafana:
        panel = next(p for p in bd.PANELS if p.title == "Transaction Types")
        rows = grafana.execute(expand(panel.sql, TimeRange(start, start + timedelta(minutes=5)))).fetchall()
        assert rows and sum(n for _, n in rows) > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            grafana.execute("DELETE FROM banking_minute_stats")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            grafana.execute("CREATE TABLE sneaky (id int)")
