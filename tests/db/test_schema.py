"""Migrations, partitions and the population seed against a real PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from banking.model import Window
from banking.store import schema
from banking.store.partitions import ensure_partitions
from tests.helpers import SMALL, partitions

CATALOG = """
SELECT c.relname, c.relkind, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'public' ORDER BY 1, 3
"""


def snapshot(conn: psycopg.Connection) -> tuple:
    catalog = conn.execute(CATALOG).fetchall()
    migrations = conn.execute(
        "SELECT version, name, checksum, applied_at FROM banking_schema_migrations"
    ).fetchall()
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM cards), (SELECT count(*) FROM merchants), "
        "(SELECT count(*) FROM blacklist), (SELECT count(*) FROM banking_population)"
    ).fetchone()
    return catalog, migrations, counts


def test_migrations_twice_change_nothing(empty_db: tuple[str, psycopg.Connection]) -> None:
    _, conn = empty_db
    first = schema.apply_migrations(conn)
    assert first == [m.name for m in schema.migrations()]
    assert schema.seed_population(conn, SMALL) is True
    before = snapshot(conn)
    assert schema.apply_migrations(conn) == []
    assert schema.seed_population(conn, SMALL) is False
    assert snapshot(conn) == before


def test_edited_migration_is_refused(empty_db: tuple[str, psycopg.Connection], tmp_path) -> None:
    _, conn = empty_db
    for m in schema.migrations():
        (tmp_path / f"{m.name}.sql").write_text(m.text)
    schema.apply_migrations(conn, tmp_path)
    (tmp_path / "0005_grants.sql").write_text("SELECT 1;")
    with pytest.raises(schema.MigrationError, match="0005_grants was changed"):
        schema.apply_migrations(conn, tmp_path)


def test_badly_named_migration_is_refused(tmp_path) -> None:
    (tmp_path / "1_Tables.sql").write_text("SELECT 1;")
    with pytest.raises(schema.MigrationError, match="NNNN_lower_case_name"):
        schema.migrations(tmp_path)


def test_population_matches_the_generator(db: psycopg.Connection) -> None:
    from banking.stream.population import population_for

    population = population_for(SMALL)
    assert db.execute("SELECT count(*) FROM accounts").fetchone()[0] == SMALL.n_accounts
    assert db.execute("SELECT count(*) FROM cards").fetchone()[0] == population.n_cards
    assert db.execute("SELECT count(*) FROM blacklist").fetchone()[0] == len(population.listed_account)
    accounts = {a.account_id: a for a in map(population.account, range(population.n_accounts))}
    stored = db.execute(
        "SELECT account_id, holder_name, home_country, city, currency, opened_on FROM accounts"
    ).fetchall()
    assert {r[0]: r[1:] for r in stored} == {
        i: (a.holder_name, a.home_country, a.city, a.currency, a.opened_on) for i, a in accounts.items()
    }
    cards = {c.card_ref: c for a in accounts.values() for c in a.cards}
    stored = db.execute("SELECT card_ref, account_id, card_type, masked_pan, issued_on FROM cards").fetchall()
    assert {r[0]: r[1:] for r in stored} == {
        ref: (c.account_id, c.card_type, c.masked_pan, c.issued_on) for ref, c in cards.items()
    }
    merchants = [population.merchant(m) for m in range(population.n_merchants)]
    stored = db.execute("SELECT merchant_id, name, category, country, city FROM merchants").fetchall()
    assert {r[0]: r[1:] for r in stored if r[0] in {m.merchant_id for m in merchants}} == {
        m.merchant_id: (m.name, m.category, m.country, m.city) for m in merchants
    }
    listed = {population.blacklist_entry(k) for k in range(len(population.listed_account))}
    stored = db.execute("SELECT account_id, reason, listed_on FROM blacklist").fetchall()
    assert {(e.account_id, e.reason, e.listed_on) for e in listed} <= set(stored)
    assert all(accounts[e.account_id].blacklisted for e in listed)


def test_two_populations_can_live_side_by_side(db: psycopg.Connection) -> None:
    other = SMALL.with_overrides({"n_accounts": 400})
    assert schema.seed_population(db, other) is True
    assert db.execute("SELECT count(*) FROM accounts").fetchone()[0] == SMALL.n_accounts + 400


def test_partitions_are_daily_and_created_on_demand(db: psycopg.Connection) -> None:
    start = datetime(2026, 3, 28, 22, tzinfo=timezone.utc)
    assert ensure_partitions(db, Window(start, start + timedelta(days=2))) == 3
    assert ensure_partitions(db, Window(start, start + timedelta(hours=1))) == 0
    days = ["20260328", "20260329", "20260330"]
    assert partitions(db) == [f"banking_data_p{d}" for d in days]
    assert partitions(db, "banking_account_hours") == [f"banking_account_hours_p{d}" for d in days]
    bound = db.execute(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'banking_data_p20260329'"
    ).fetchone()[0]
    assert "2026-03-29 00:00:00+00" in bound and "2026-03-30 00:00:00+00" in bound


def reloptions(conn: psycopg.Connection, parent: str) -> dict[str, list[str] | None]:
    """Each partition of ``parent`` with its storage parameters."""
    rows = conn.execute(
        "SELECT c.relname, c.reloptions FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        (parent,),
    )
    return dict(rows.fetchall())


def test_data_partitions_are_vacuumed_after_every_percent_inserted(
    empty_db: tuple[str, psycopg.Connection], tmp_path
) -> None:
    """0020 sets the data partitions' insert vacuum threshold, on those there are and on every new one;
    the hour tiles' partitions keep theirs."""
    _, conn = empty_db
    for m in schema.migrations():
        if m.version <= 19:
            (tmp_path / f"{m.name}.sql").write_text(m.text)
    schema.apply_migrations(conn, tmp_path)
    start = datetime(2026, 3, 28, 22, tzinfo=timezone.utc)
    ensure_partitions(conn, Window(start, start + timedelta(hours=1)))
    assert reloptions(conn, "banking_data") == {"banking_data_p20260328": None}
    assert "0020_data_partitions_vacuum" in schema.apply_migrations(conn)
    ensure_partitions(conn, Window(start, start + timedelta(days=1)))
    setting = ["autovacuum_vacuum_insert_scale_factor=0.01"]
    assert reloptions(conn, "banking_data") == {
        "banking_data_p20260328": setting,
        "banking_data_p20260329": setting,
    }
    tiles = reloptions(conn, "banking_account_hours")
    assert set(tiles) == {"banking_account_hours_p20260328", "banking_account_hours_p20260329"}
    assert all("autovacuum_vacuum_scale_factor=0.01" in options for options in tiles.values())


def test_two_loads_creating_the_same_day_at_once_both_succeed(
    empty_db: tuple[str, psycopg.Connection], db: psycopg.Connection, pg
) -> None:
    """The second creator waits for the first one's commit, then sees its partition (it used to
    raise DuplicateTable: its catalog cache still said the day was missing)."""
    import threading

    name, _ = empty_db
    window = Window(
        datetime(2031, 3, 4, 10, tzinfo=timezone.utc), datetime(2031, 3, 4, 11, tzinfo=timezone.utc)
    )
    outcome: list[object] = []
    with pg.connect(name) as first:
        first.autocommit = False
        assert first.execute(
            "SELECT banking_ensure_partitions(%s, %s)", (window.start, window.end)
        ).fetchone() == (1,)  # created, not committed: its lock is held

        def second() -> None:
            try:
                with pg.connect(name) as conn:
                    outcome.append(ensure_partitions(conn, window))
            except BaseException as exc:  # noqa: BLE001 - asserted below
                outcome.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        waiting = 0
        for _ in range(200):
            waiting = db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                (name,),
            ).fetchone()[0]
            if waiting:
                break
            thread.join(0.05)
        assert waiting == 1, "the second creator should wait for the first"
        first.commit()
        thread.join(30)
    assert outcome == [0]
