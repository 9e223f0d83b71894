"""The "Pipeline stalled" alert as Grafana evaluates it (query A, reduce B = last, threshold C > x),
from the provisioned rule file, on a real PostgreSQL with the migrations applied, as the dashboard's
read-only role: it fires before any window was ever loaded and stays quiet right after a load."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import yaml

from banking import pipeline, rules
from banking.model import Window
from grafana import build_dashboard as bd
from tests.grafana.macros import TimeRange, expand
from tests.helpers import SMALL

STALLED = "banking-pipeline-stalled"


def provisioned_rule(uid: str) -> dict[str, Any]:
    """The rule as Grafana reads it from the provisioned file (the default threshold)."""
    (group,) = yaml.safe_load(bd.ALERTING_FILE.read_text(encoding="utf-8"))["groups"]
    return next(rule for rule in group["rules"] if rule["uid"] == uid)


def evaluate(conn: psycopg.Connection, rule: dict[str, Any], now: datetime) -> tuple[float, bool]:
    """The reduced value (B) and whether the condition (C) fires, at ``now``."""
    query, reduce, threshold = rule["data"]
    assert reduce["model"] == {**reduce["model"], "type": "reduce", "reducer": "last", "expression": "A"}
    assert threshold["model"]["type"] == "threshold" and rule["condition"] == threshold["refId"]
    (condition,) = threshold["model"]["conditions"]
    assert condition["evaluator"]["type"] == "gt"
    (limit,) = condition["evaluator"]["params"]
    lookback = timedelta(seconds=query["relativeTimeRange"]["from"])
    rows = conn.execute(expand(query["model"]["rawSql"], TimeRange(now - lookback, now))).fetchall()
    assert len(rows) == 1 and len(rows[0]) == 1, "one row, one number: anything else is 'no data' (OK)"
    value = float(rows[0][0])
    return value, value > limit


def test_stalled_fires_when_no_window_was_ever_loaded(db: psycopg.Connection) -> None:
    rule = provisioned_rule(STALLED)
    db.execute("SET ROLE banking_reader")
    assert db.execute("SELECT count(*) FROM banking_batches").fetchone() == (0,)
    value, fires = evaluate(db, rule, datetime.now(timezone.utc))
    assert fires, value
    assert value == bd.NEVER_LOADED_SECONDS


def test_stalled_is_quiet_right_after_a_load(db: psycopg.Connection, rule_set: rules.RuleSet) -> None:
    end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    pipeline.run_window(db, SMALL, rule_set, Window(end - timedelta(minutes=1), end))
    db.execute("SET ROLE banking_reader")
    value, fires = evaluate(db, provisioned_rule(STALLED), datetime.now(timezone.utc))
    assert not fires and 0 <= value < 60, value
