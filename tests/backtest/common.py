"""Shared test data for the backtest tests: a range of loaded windows, params, snapshots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import yaml

from banking import paths, pipeline
from banking.model import Window
from banking.rules.rule_set import RuleSet
from tests.helpers import DAY, SMALL

NOON = DAY.replace(hour=12)


def minutes(a: int, b: int) -> Window:
    return Window(NOON + timedelta(minutes=a), NOON + timedelta(minutes=b))


# Loaded in this order, as the stream would: history before the range, the range's windows (one of
# five minutes), and a window across the range's end. Loads are kept minute by minute, so a backtest
# replays the minutes of the range: those of the window across the end that lie inside it too.
BEFORE = [minutes(i, i + 1) for i in range(5)]
INSIDE = [minutes(i, i + 1) for i in range(5, 20)] + [minutes(20, 25)]
PARTIAL = minutes(25, 30)
RANGE = minutes(5, 27)
RANGE_MINUTES = 22

TABLES = ("banking_backtest_runs", "banking_backtest_results", "banking_backtest_metrics")
# Everything the pipeline writes; a backtest must leave all of it alone.
PIPELINE_TABLES = (
    "banking_data",
    "banking_batches",
    "banking_staging",
    "banking_minute_stats",
    "banking_minute_rule_hits",
    "banking_hour_stats",
    "banking_hour_rule_hits",
    "banking_hour_blacklisted",
    "banking_day_stats",
    "banking_day_rule_hits",
    "banking_day_blacklisted",
)


def load_windows(conn: psycopg.Connection, rule_set: RuleSet) -> None:
    for window in [*BEFORE, *INSIDE, PARTIAL]:
        pipeline.run_window(conn, SMALL, rule_set, window)


def params(backtest_id: str = "bt", **overrides: Any) -> dict[str, Any]:
    base = {
        "backtest_id": backtest_id,
        "rules_file": "rules/rules.yaml",
        "rules_json": None,
        "start": RANGE.start.isoformat(),
        "end": RANGE.end.isoformat(),
        "chunk_minutes": 10,
    }
    return {**base, **overrides}


def stricter_rules(reject: int = 40) -> dict[str, Any]:
    """The live rule file with a lower reject threshold, as an inline rule set."""
    data = yaml.safe_load(paths.RULES_FILE.read_text(encoding="utf-8"))
    data["version"] = f"stricter-{reject}"
    data["thresholds"]["reject"] = reject
    return data


def snapshot(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Row count and an md5 over every row of each pipeline table."""
    out = {}
    for table in PIPELINE_TABLES:
        out[table] = conn.execute(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {table} t"
        ).fetchone()
    out["partitions"] = conn.execute(
        "SELECT count(*), string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'banking_data'::regclass"
    ).fetchone()
    return out


def backtest_rows(conn: psycopg.Connection, table: str, backtest_id: str) -> list[tuple]:
    return conn.execute(
        f"SELECT * FROM {table} WHERE backtest_id = %s ORDER BY 2, 3", (backtest_id,)
    ).fetchall()


def counts(conn: psycopg.Connection) -> dict[str, int]:
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
