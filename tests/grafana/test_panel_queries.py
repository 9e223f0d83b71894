"""Every panel's and alert rule's SQL, with Grafana's macros expanded for a real time range, run as
the read-only role against windows loaded by the pipeline: the shape each visualization needs, and
values that agree with counts computed independently from ``banking_data``."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import yaml

from banking import pipeline
from banking.backtest import replay
from banking.model import TRANS_TYPES, Window
from banking.paths import RULES_FILE
from banking.rules import config
from banking.rules.rule_set import RuleSet
from grafana import build_dashboard as bd
from tests.grafana.macros import TimeRange, expand
from tests.helpers import DAY, SMALL

START = DAY.replace(hour=12)  # windows [12:00, 12:01) ... [12:09, 12:10)
MINUTES = 10
CALM = SMALL  # the first half: SMALL's 5% injected fraud
SPIKE = SMALL.with_overrides({"fraud_rate": 0.3})  # the second half: a fraud spike
FULL = TimeRange(START - timedelta(minutes=30), START + timedelta(minutes=30))
# A range that cuts the data: minutes 12:03 .. 12:06 for the rollups, and up to 12:06:30 for raw rows.
PART = TimeRange(START + timedelta(minutes=3), START + timedelta(minutes=6, seconds=30))
PANELS = {panel.title: panel for panel in bd.PANELS}
LATEST_REJECTED_COLUMNS = [
    "time",
    "holder",
    "amount",
    "merchant",
    "country",
    "rules_triggered",
    "rules_explanation",
]


def minute(i: int) -> datetime:
    return START + timedelta(minutes=i)


@pytest.fixture
def loaded(db: psycopg.Connection, rule_set: RuleSet) -> psycopg.Connection:
    """Ten one-minute windows, the last five with a fraud spike; the session reads as banking_reader."""
    for i in range(MINUTES):
        settings = CALM if i < MINUTES // 2 else SPIKE
        pipeline.run_window(db, settings, rule_set, Window(minute(i), minute(i + 1)))
    stricter = yaml.safe_load(RULES_FILE.read_text())
    stricter["thresholds"] = {"reject": 30}
    replay.run_on(
        db,
        {
            "backtest_id": "panel-test",
            "rules_json": stricter,
            "start": minute(0).isoformat(),
            "end": minute(MINUTES).isoformat(),
        },
    )
    db.execute("SET ROLE banking_reader")
    return db


def run(conn: psycopg.Connection, sql: str, time_range: TimeRange) -> tuple[list[str], list[tuple]]:
    """Column names and rows of ``sql`` as Grafana would run it for ``time_range``."""
    cur = conn.execute(expand(sql, time_range))
    assert cur.description is not None
    return [column.name for column in cur.description], cur.fetchall()


def panel_rows(conn: psycopg.Connection, title: str, time_range: TimeRange = FULL) -> list[tuple]:
    return run(conn, PANELS[title].sql, time_range)[1]


def scalar(conn: psycopg.Connection, title: str, time_range: TimeRange = FULL) -> Any:
    rows = panel_rows(conn, title, time_range)
    assert len(rows) == 1 and len(rows[0]) == 1
    return rows[0][0]


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def raw(conn: psycopg.Connection, sql: str, time_range: TimeRange, per_minute: bool = True) -> list[tuple]:
    """An independent query on banking_data; ``{range}`` is the panel's filter, per minute or per row."""
    column = "date_trunc('minute', \"timestamp\")" if per_minute else '"timestamp"'
    text = sql.replace("{range}", f"{column} BETWEEN %(start)s AND %(end)s")
    return conn.execute(text, {"start": time_range.start, "end": time_range.end}).fetchall()


# --- the shape each visualization needs, for every panel -----------------------------------------


def check_shape(conn: psycopg.Connection, panel: bd.Panel) -> None:
    """The rows ``panel``'s visualization needs: a time column first and numbers for a time series,
    exactly one number for a stat, label and value for a pie or bar chart, named columns for a table."""
    columns, rows = run(conn, panel.sql, FULL)
    assert rows, "no rows"
    if panel.type == "stat":
        assert len(rows) == 1 and len(columns) == 1
        assert is_number(rows[0][0]), rows
    elif panel.type == "timeseries":
        assert panel.format == "time_series" and columns[0] == "time"
        times = [row[0] for row in rows]
        assert times == sorted(times), "time series rows must come in time order"
        for t in times:
            moment = t if isinstance(t, datetime) else datetime.fromtimestamp(float(t), FULL.start.tzinfo)
            assert FULL.start <= moment <= FULL.end
        first_value = 1
        if "metric" in columns:  # long format: time, metric (the series name), one value
            assert columns[1] == "metric" and len(columns) == 3
            assert all(isinstance(row[1], str) and row[1] for row in rows)
            first_value = 2
        assert len(columns) > first_value
        for i in range(first_value, len(columns)):
            assert all(is_number(row[i]) for row in rows), columns[i]
    elif panel.type in ("piechart", "barchart"):
        assert len(columns) == 2
        assert all(isinstance(label, str) and label for label, _ in rows)
        assert all(is_number(value) and value > 0 for _, value in rows)
        if panel.type == "barchart":
            assert panel.options["xField"] == columns[0]
    elif panel.type == "table":
        assert len(columns) >= 3 and len(set(columns)) == len(columns)
    else:
        pytest.fail(f"no shape check for panel type {panel.type}")


def test_every_panel_query_has_the_shape_of_its_visualization(loaded: psycopg.Connection) -> None:
    assert loaded.execute("SELECT current_user").fetchone()[0] == "banking_reader"
    assert {p.type for p in bd.PANELS} == {"stat", "timeseries", "piechart", "barchart", "table"}
    for panel in bd.PANELS:
        try:
            check_shape(loaded, panel)
        except AssertionError as exc:
            raise AssertionError(f"panel {panel.title!r}: {exc}") from exc


def test_every_alert_query_returns_one_number(loaded: psycopg.Connection) -> None:
    """Grafana turns a one-row, one-numeric-column table into the number the threshold compares."""
    for rule in bd.ALERT_RULES:
        last = TimeRange(minute(MINUTES) - timedelta(seconds=rule.lookback_seconds), minute(MINUTES))
        columns, rows = run(loaded, rule.sql, last)
        assert len(columns) == 1 and len(rows) == 1, rule.uid
        assert is_number(rows[0][0]) and rows[0][0] >= 0, rule.uid


# --- values that agree with banking_data ---------------------------------------------------------


def test_stats_agree_with_banking_data(loaded: psycopg.Connection) -> None:
    for time_range in (FULL, PART):
        check_stats(loaded, time_range)


def check_stats(loaded: psycopg.Connection, time_range: TimeRange) -> None:
    (approved, rejected, approved_sum, rejected_sum, total), *_ = raw(
        loaded,
        """
        SELECT count(*) FILTER (WHERE decision = 'Approved'), count(*) FILTER (WHERE decision = 'Rejected'),
               sum(amount) FILTER (WHERE decision = 'Approved'), sum(amount) FILTER (WHERE decision = 'Rejected'),
               count(*)
        FROM banking_data WHERE {range}
        """,
        time_range,
    )
    assert rejected > 0 and approved > 0  # both panels have something to show
    assert scalar(loaded, "Rejected Transactions", time_range) == rejected
    assert scalar(loaded, "Approved Transactions", time_range) == approved
    assert scalar(loaded, "Total Approved Amount", time_range) == approved_sum
    assert scalar(loaded, "Total Rejected Amount", time_range) == rejected_sum
    assert scalar(loaded, "Rejection rate", time_range) == pytest.approx(rejected / total)


def test_time_range_cuts_the_data(loaded: psycopg.Connection) -> None:
    everything = loaded.execute("SELECT count(*) FROM banking_data").fetchone()[0]
    assert scalar(loaded, "Approved Transactions") + scalar(loaded, "Rejected Transactions") <= everything
    part = sum(n for _, n in panel_rows(loaded, "Transaction Types", PART))
    full = sum(n for _, n in panel_rows(loaded, "Transaction Types", FULL))
    assert full == everything and 0 < part < full
    later = TimeRange(minute(MINUTES + 5), minute(MINUTES + 30))
    assert scalar(loaded, "Rejected Transactions", later) == 0
    assert panel_rows(loaded, "Latest rejected transactions", later) == []


def test_transaction_types_and_per_minute_series(loaded: psycopg.Connection) -> None:
    for time_range in (FULL, PART):
        check_types_and_series(loaded, time_range)


def check_types_and_series(loaded: psycopg.Connection, time_range: TimeRange) -> None:
    by_type = dict(
        raw(loaded, "SELECT trans_type, count(*) FROM banking_data WHERE {range} GROUP BY 1", time_range)
    )
    assert set(by_type) == set(TRANS_TYPES)
    assert dict(panel_rows(loaded, "Transaction Types", time_range)) == by_type

    per_minute = raw(
        loaded,
        """
        SELECT extract(epoch FROM date_trunc('minute', "timestamp")), decision, count(*), sum(amount)
        FROM banking_data WHERE {range} GROUP BY 1, 2
        """,
        time_range,
    )
    series = panel_rows(loaded, "Transactions per minute by decision", time_range)
    assert {(t, d): n for t, d, n in series} == {(t, d): n for t, d, n, _ in per_minute}
    amounts = panel_rows(loaded, "Approved and rejected amounts per minute", time_range)
    assert {(t, d): a for t, d, a in amounts} == {
        (t, d): a for t, d, _, a in per_minute if d in ("Approved", "Rejected")
    }


def raw_rule_hits(conn: psycopg.Connection, time_range: TimeRange) -> list[tuple]:
    """(rule, hits, hits on injected fraud) from each row's rule_hits, not from the rollup."""
    return raw(
        conn,
        """
        SELECT h.hit ->> 'rule', count(*), count(*) FILTER (WHERE d.fraud_scenario IS NOT NULL)
        FROM banking_data d CROSS JOIN LATERAL jsonb_array_elements(d.rule_hits) AS h(hit)
        WHERE {range} GROUP BY 1
        """.replace('"timestamp"', 'd."timestamp"'),
        time_range,
    )


def test_rules_triggered_agree_with_rule_hits(loaded: psycopg.Connection) -> None:
    for time_range in (FULL, PART):
        check_rules(loaded, time_range)


def check_rules(loaded: psycopg.Connection, time_range: TimeRange) -> None:
    hits = {rule: n for rule, n, _ in raw_rule_hits(loaded, time_range)}
    assert len(hits) >= 3
    bars = panel_rows(loaded, "Rules Triggered", time_range)
    assert dict(bars) == hits
    assert [n for _, n in bars] == sorted(hits.values(), reverse=True)
    per_minute = Counter()
    for _, rule, n in panel_rows(loaded, "Rules triggered per minute", time_range):
        per_minute[rule] += n
    assert per_minute == hits


def test_precision_and_recall_agree_with_the_ground_truth(loaded: psycopg.Connection) -> None:
    for time_range in (FULL, PART):
        check_precision_and_recall(loaded, time_range)


def check_precision_and_recall(loaded: psycopg.Connection, time_range: TimeRange) -> None:
    columns, rows = run(loaded, PANELS["Rule precision and recall (injected fraud)"].sql, time_range)
    assert columns == ["rule", "hits", "fraud_hits", "injected_fraud", "precision", "recall"]
    (injected, rejected, rejected_fraud), *_ = raw(
        loaded,
        """
        SELECT count(*) FILTER (WHERE fraud_scenario IS NOT NULL), count(*) FILTER (WHERE decision = 'Rejected'),
               count(*) FILTER (WHERE decision = 'Rejected' AND fraud_scenario IS NOT NULL)
        FROM banking_data WHERE {range}
        """,
        time_range,
    )
    expected = {rule: (n, tp) for rule, n, tp in raw_rule_hits(loaded, time_range)}
    expected["Rejected (decision)"] = (rejected, rejected_fraud)
    table = {row[0]: row[1:] for row in rows}
    assert set(table) == set(expected) and injected > 0
    for rule, (hits, fraud_hits, injected_column, precision, recall) in table.items():
        assert (hits, fraud_hits) == expected[rule], rule
        assert injected_column == injected
        assert 0 <= precision <= 1 and 0 <= recall <= 1
        assert precision == pytest.approx(fraud_hits / hits)
        assert recall == pytest.approx(fraud_hits / injected)
    assert [row[4] for row in rows] == sorted((row[4] for row in rows), reverse=True)
    # Something is caught, and the rejected decision is better than chance.
    assert (
        table["Rejected (decision)"][3]
        > injected / loaded.execute("SELECT count(*) FROM banking_data").fetchone()[0]
    )


def test_blacklisted_account_transactions(loaded: psycopg.Connection) -> None:
    """Checked against the blacklist table, not the account_blacklisted column the panel reads."""
    by_holder = dict(
        raw(
            loaded,
            """
            SELECT a.holder_name, count(*)
            FROM banking_data d JOIN blacklist b USING (account_id) JOIN accounts a USING (account_id)
            WHERE {range} GROUP BY 1
            """.replace('"timestamp"', 'd."timestamp"'),
            FULL,
            per_minute=False,
        )
    )
    bars = panel_rows(loaded, "Blacklisted Account Transactions")
    assert 0 < len(bars) <= 10
    assert all(by_holder[name] == n for name, n in bars)
    assert [n for _, n in bars] == sorted(by_holder.values(), reverse=True)[: len(bars)]


def test_latest_rejected_transactions(loaded: psycopg.Connection) -> None:
    for time_range in (FULL, PART):
        check_latest_rejected(loaded, time_range)


def check_latest_rejected(loaded: psycopg.Connection, time_range: TimeRange) -> None:
    columns, rows = run(loaded, PANELS["Latest rejected transactions"].sql, time_range)
    assert columns == LATEST_REJECTED_COLUMNS
    rejected = raw(
        loaded,
        """
        SELECT "timestamp", account_holder_name, amount, merchant_name, country, rules_triggered, rules_explanation
        FROM banking_data WHERE decision = 'Rejected' AND {range}
        """,
        time_range,
        per_minute=False,
    )
    assert len(rows) == min(50, len(rejected)) > 0
    assert set(rows) <= set(rejected)
    times = [row[0] for row in rows]
    assert times == sorted(times, reverse=True)
    assert times[0] == max(r[0] for r in rejected)
    assert all(row[5] != "No Rules Triggered" and row[6] for row in rows)


def test_pipeline_health(loaded: psycopg.Connection) -> None:
    windows = raw(
        loaded,
        "SELECT window_end, count(*) FROM banking_data WHERE {range} GROUP BY 1 ORDER BY 1",
        FULL,
        per_minute=False,
    )
    assert scalar(loaded, "Windows loaded") == MINUTES == len(windows)
    assert scalar(loaded, "Windows loaded", PART) == 4  # windows ending 12:03 .. 12:06
    per_window = panel_rows(loaded, "Rows per window")
    assert [(t, n) for t, n, _, _ in per_window] == windows
    assert all(0 <= rejected <= n and 0 <= fraud <= n for _, n, rejected, fraud in per_window)
    lags = panel_rows(loaded, "Load lag (finished_at - window_end)")
    assert [t for t, _ in lags] == [t for t, _ in windows] and all(is_number(lag) for _, lag in lags)
    # The loads committed moments ago, whatever the windows' dates.
    assert 0 <= scalar(loaded, "Last load age") < 600


def test_alert_rules_see_the_fraud_spike(loaded: psycopg.Connection) -> None:
    """The injected fraud alert stays quiet on the calm half and fires on the spike."""
    rule = next(r for r in bd.ALERT_RULES if r.uid == "banking-injected-fraud")
    calm = TimeRange(minute(5) - timedelta(seconds=rule.lookback_seconds), minute(5) - timedelta(seconds=1))
    spike = TimeRange(minute(MINUTES) - timedelta(seconds=rule.lookback_seconds), minute(MINUTES))
    for time_range, fires in ((calm, False), (spike, True)):
        value = run(loaded, rule.sql, time_range)[1][0][0]
        (expected,), *_ = raw(
            loaded,
            "SELECT avg((fraud_scenario IS NOT NULL)::int)::float8 FROM banking_data WHERE {range}",
            time_range,
        )
        assert value == pytest.approx(expected)
        assert (value > rule.threshold) is fires, (time_range, value)

    rejection = next(r for r in bd.ALERT_RULES if r.uid == "banking-rejection-rate")
    value = run(loaded, rejection.sql, spike)[1][0][0]
    (expected,), *_ = raw(
        loaded, "SELECT avg((decision = 'Rejected')::int)::float8 FROM banking_data WHERE {range}", spike
    )
    assert value == pytest.approx(expected) and value > 0
    empty = TimeRange(minute(60), minute(65))
    assert run(loaded, rejection.sql, empty)[1] == [(0.0,)]


def test_backtest_panel_shows_live_vs_candidate(loaded: psycopg.Connection) -> None:
    """The stricter candidate (reject at 30) rejects at least as much as the live rules, per the panel."""
    rows = panel_rows(loaded, "Backtest: live vs candidate (latest)")
    overall = rows[0]
    assert overall[0] == "*"
    live_rejected, candidate_rejected = overall[3], overall[4]
    assert candidate_rejected > live_rejected > 0
    assert {r[0] for r in rows[1:]} == {r.id for r in config.load_rules().rules}
