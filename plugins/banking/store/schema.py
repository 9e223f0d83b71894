"""Schema set-up: ordered migrations from ``include/sql/migrations``, login roles, population seed.

Each migration runs once, in its own transaction, under an advisory lock, and is recorded with
its checksum in ``banking_schema_migrations``; a migration edited after it ran is an error, not a
silent skip. Running everything again changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql as pgsql

from banking.db import sql
from banking.paths import MIGRATIONS_DIR
from banking.store import population_rows
from banking.stream.population import population_for
from banking.stream.settings import GeneratorSettings

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Login roles created when their password is in the environment: env var -> (role, group role).
LOGIN_ROLES = {
    "BANKING_PIPELINE_PASSWORD": ("banking_pipeline", "banking_writer"),
    "BANKING_DASHBOARD_PASSWORD": ("banking_dashboard", "banking_reader"),
}


class MigrationError(RuntimeError):
    """A migration file is misnamed, or was changed after it was applied."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; names look like ``0001_roles.sql``."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_lower_case_name.sql")
        found.append(Migration(int(match[1]), path.stem, path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migrations share a version number")
    return found


def apply_migrations(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations that have not run yet; returns their names."""
    applied_now = []
    with conn.transaction():
        conn.execute(sql("schema/lock"))
        conn.execute(sql("schema/create_migrations_table"))
    for migration in migrations(directory):
        with conn.transaction():
            conn.execute(sql("schema/lock"))
            done = {v: (n, c) for v, n, c in conn.execute(sql("schema/applied_migrations")).fetchall()}
            if migration.version in done:
                name, checksum = done[migration.version]
                if checksum != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.name} was changed after it was applied as {name}; "
                        "add a new migration instead of editing an applied one"
                    )
                continue
            conn.execute(migration.text)
            conn.execute(
                sql("schema/record_migration"),
                {"version": migration.version, "name": migration.name, "checksum": migration.checksum},
            )
            applied_now.append(migration.name)
            log.info("applied migration %s", migration.name)
    return applied_now


def ensure_login_roles(conn: psycopg.Connection, environ: Mapping[str, str]) -> list[str]:
    """Create or update the login roles whose passwords are set in ``environ``; returns their names."""
    done = []
    for env_var, (role, group) in LOGIN_ROLES.items():
        password = environ.get(env_var)
        if not password:
            continue
        statement = pgsql.SQL(sql("schema/login_role")).format(
            role=pgsql.Identifier(role),
            role_name=pgsql.Literal(role),
            group=pgsql.Identifier(group),
            # A SCRAM verifier, never the clear text: servers that log DDL would log the password.
            password=pgsql.Literal(
                conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
            ),
        )
        with conn.transaction():
            conn.execute(statement)
        done.append(role)
    return done


def seed_population(conn: psycopg.Connection, settings: GeneratorSettings) -> bool:
    """Store the population of ``settings`` unless it is there already; True when it was seeded now."""
    version = settings.population_version
    with conn.transaction():
        conn.execute(sql("schema/lock"))
        if conn.execute(sql("population/is_seeded"), {"version": version}).fetchone()[0]:
            return False
        population = population_for(settings)
        conn.execute(
            sql("population/insert_version"),
            {
                "version": version,
                "seed": settings.seed,
                "accounts": population.n_accounts,
                "merchants": population.n_merchants,
                "cards": population.n_cards,
                "blacklisted": len(population.listed_account),
            },
        )
        for name, chunks in (
            ("population/copy_accounts", population_rows.account_chunks),
            ("population/copy_cards", population_rows.card_chunks),
            ("population/copy_merchants", population_rows.merchant_chunks),
            ("population/copy_blacklist", population_rows.blacklist_chunks),
        ):
            with conn.cursor() as cur, cur.copy(sql(name)) as copy:
                for chunk in chunks(population):
                    copy.write(chunk)
    log.info(
        "seeded population %s: %d accounts, %d merchants, %d blacklisted",
        version,
        population.n_accounts,
        population.n_merchants,
        len(population.listed_account),
    )
    return True
