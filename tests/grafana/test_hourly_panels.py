"""The rollup panels read the daily rollups for the whole days of a range (migration 0011), the hourly
rollups for the whole hours outside them (0008) and the per-minute rollups (or, for the blacklisted
accounts, rows) at its edges: exactly the answers of the same panels over the per-minute rollups and
raw rows alone (their SQL before migration 0008, kept here), for ranges across hours and days, at the
intervals Grafana gives them, after reruns; and the same numbers as banking_data."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest

from banking import pipeline
from banking.model import Window
from banking.rules.rule_set import RuleSet
from grafana import build_dashboard as bd
from tests.grafana.macros import TimeRange, expand, for_panel
from tests.grafana.test_panel_queries import (
    check_precision_and_recall,
    check_rules,
    check_stats,
    check_types_and_series,
    raw,
)
from tests.helpers import DAY, SMALL

PANELS = {panel.title: panel for panel in bd.PANELS}


def at(hour: int, minute: int = 0, second: float = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute) + timedelta(seconds=second)


NEXT_DAY = DAY + timedelta(days=1)
RANGES = {
    "edges": TimeRange(at(10, 30, 30.5), at(13, 5, 10)),  # hours 11 and 12 whole, minutes around them
    "aligned": TimeRange(at(11), at(13)),  # hours 11 and 12, and the minute 13:00 (both ends count)
    "everything": TimeRange(at(10), at(14)),
    "within an hour": TimeRange(at(11, 15), at(11, 45, 59.5)),
    "no data": TimeRange(at(15), at(17)),
    # DAY whole, the minutes 23:41 .. 23:59 before it and 00:00 .. 00:05 after it
    "a day and its edges": TimeRange(
        DAY - timedelta(minutes=19, seconds=29.5), NEXT_DAY + timedelta(minutes=5, seconds=10)
    ),
    # DAY whole, the hours 23:00 before it and 00:00 after it whole, minutes (none loaded) around them
    "a day and whole hours": TimeRange(
        DAY - timedelta(hours=1, minutes=29, seconds=29.5), NEXT_DAY + timedelta(hours=1, minutes=5)
    ),
    "day aligned": TimeRange(DAY, NEXT_DAY),  # DAY, and the minute 00:00 after it
    "hour aligned": TimeRange(
        DAY - timedelta(hours=1), NEXT_DAY + timedelta(hours=1)
    ),  # 23:00, DAY, 00:00, 01:00
    "a day but half a second": TimeRange(DAY, NEXT_DAY - timedelta(seconds=0.5)),  # hours 0 .. 22, 23:xx
    "three days": TimeRange(DAY - timedelta(days=1), NEXT_DAY + timedelta(days=1)),
}
DAY_RANGES = [name for name in RANGES if "day" in name]
SERIES_INTERVALS = [
    timedelta(minutes=1),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(days=1),
]

# The panels' SQL before the hourly rollups: the per-minute rollups and banking_data only, with the
# time series on $__interval as the panels now are.
_PER_MINUTE = "* 60000.0 / $__interval_ms"
MINUTE_PATH = {
    "Rejected Transactions": """
        SELECT coalesce(sum(txns), 0) AS rejected FROM banking_minute_stats
        WHERE $__timeFilter(minute) AND decision = 'Rejected'""",
    "Approved Transactions": """
        SELECT coalesce(sum(txns), 0) AS approved FROM banking_minute_stats
        WHERE $__timeFilter(minute) AND decision = 'Approved'""",
    "Total Approved Amount": """
        SELECT coalesce(sum(amount), 0) AS total_approved FROM banking_minute_stats
        WHERE $__timeFilter(minute) AND decision = 'Approved'""",
    "Total Rejected Amount": """
        SELECT coalesce(sum(amount), 0) AS total_rejected FROM banking_minute_stats
        WHERE $__timeFilter(minute) AND decision = 'Rejected'""",
    "Rejection rate": """
        SELECT sum(txns) FILTER (WHERE decision = 'Rejected')::float8 / nullif(sum(txns), 0) AS rejection_rate
        FROM banking_minute_stats WHERE $__timeFilter(minute)""",
    "Transactions per minute by decision": f"""
        SELECT $__timeGroupAlias(minute, $__interval), decision AS metric, sum(txns) {_PER_MINUTE} AS transactions
        FROM banking_minute_stats WHERE $__timeFilter(minute) GROUP BY 1, 2 ORDER BY 1, 2""",
    "Approved and rejected amounts per minute": f"""
        SELECT $__timeGroupAlias(minute, $__interval), decision AS metric, sum(amount) {_PER_MINUTE} AS amount
        FROM banking_minute_stats WHERE $__timeFilter(minute) AND decision IN ('Approved', 'Rejected')
        GROUP BY 1, 2 ORDER BY 1, 2""",
    "Transaction Types": """
        SELECT trans_type, sum(txns) AS count FROM banking_minute_stats WHERE $__timeFilter(minute)
        GROUP BY trans_type ORDER BY trans_type""",
    "Rules Triggered": """
        SELECT rule_id AS rule, sum(hits) AS hits FROM banking_minute_rule_hits WHERE $__timeFilter(minute)
        GROUP BY rule_id ORDER BY hits DESC, rule_id""",
    "Blacklisted Account Transactions": """
        SELECT account_holder_name, count(*) AS transaction_count FROM banking_data
        WHERE $__timeFilter("timestamp") AND account_blacklisted
        GROUP BY account_holder_name ORDER BY transaction_count DESC, account_holder_name LIMIT 10""",
    "Rules triggered per minute": f"""
        SELECT $__timeGroupAlias(minute, $__interval), rule_id AS metric, sum(hits) {_PER_MINUTE} AS hits
        FROM banking_minute_rule_hits WHERE $__timeFilter(minute) GROUP BY 1, 2 ORDER BY 1, 2""",
    "Rule precision and recall (injected fraud)": """
        WITH fraud AS (
            SELECT coalesce(sum(txns), 0) AS injected FROM banking_minute_stats
            WHERE $__timeFilter(minute) AND injected_fraud
        ),
        per_rule AS (
            SELECT rule_id AS rule, sum(hits) AS hits, coalesce(sum(hits) FILTER (WHERE injected_fraud), 0) AS fraud_hits
            FROM banking_minute_rule_hits WHERE $__timeFilter(minute) GROUP BY rule_id
            UNION ALL
            SELECT 'Rejected (decision)', sum(txns), coalesce(sum(txns) FILTER (WHERE injected_fraud), 0)
            FROM banking_minute_stats WHERE $__timeFilter(minute) AND decision = 'Rejected'
            HAVING sum(txns) > 0
        )
        SELECT r.rule, r.hits, r.fraud_hits, f.injected AS injected_fraud,
               r.fraud_hits::float8 / r.hits AS precision, r.fraud_hits::float8 / nullif(f.injected, 0) AS recall
        FROM per_rule r CROSS JOIN fraud f ORDER BY precision DESC, r.rule""",
}


@pytest.fixture
def loaded(db: psycopg.Connection, rule_set: RuleSet) -> psycopg.Connection:
    """10:20 to 13:10 in windows of 40 minutes, two hours and one minute, two of them rerun with
    other rows (a fraud spike), and windows across the midnights before and after DAY, one of them
    rerun too; the session reads as banking_reader."""
    spike = SMALL.with_overrides({"fraud_rate": 0.3})
    two_hours = Window(at(11), at(13))
    around_next_midnight = Window(NEXT_DAY - timedelta(minutes=10), NEXT_DAY + timedelta(minutes=10))
    plan = [(SMALL, Window(at(10, 20), at(11))), (SMALL, two_hours)]
    plan += [(SMALL, Window(at(13, i), at(13, i + 1))) for i in range(10)]
    plan += [(spike, two_hours), (spike, Window(at(13, 5), at(13, 6)))]
    plan += [(SMALL, Window(DAY - timedelta(minutes=40), at(0, 20))), (SMALL, around_next_midnight)]
    plan += [(spike, around_next_midnight)]
    for settings, window in plan:
        pipeline.run_window(db, settings, rule_set, window)
    db.execute("SET ROLE banking_reader")
    return db


def rows(conn: psycopg.Connection, sql: str, time_range: TimeRange) -> list[tuple]:
    return conn.execute(expand(sql, time_range)).fetchall()


def test_every_rollup_panel_is_covered() -> None:
    assert set(MINUTE_PATH) == {p.title for p in bd.PANELS if p.source == bd.ROLLUP}


def test_panels_answer_exactly_as_over_the_minutes(loaded: psycopg.Connection) -> None:
    compared = 0
    for name, time_range in RANGES.items():
        for title, old_sql in MINUTE_PATH.items():
            panel = PANELS[title]
            if "$__interval" in panel.sql:
                intervals = [*SERIES_INTERVALS, for_panel(time_range.start, time_range.end, panel).interval]
            else:
                intervals = [time_range.interval]
            for interval in intervals:
                ranged = TimeRange(time_range.start, time_range.end, interval)
                new, old = rows(loaded, panel.sql, ranged), rows(loaded, old_sql, ranged)
                assert new == old, (name, title, interval)
                compared += bool(old and old[0] and old[0][-1])
    assert compared > 40  # most comparisons had data


def test_whole_hours_come_from_the_hourly_rollups(loaded: psycopg.Connection) -> None:
    """For the 'edges' range: one row per (hour, ...) key for 11:00 and 12:00, minutes around them;
    with one-minute buckets, minutes only; a range within an hour reads minutes."""
    edges = RANGES["edges"]
    bounds = {"start": edges.start, "end": edges.end, "h11": at(11), "h13": at(13)}
    (hour_rows,) = loaded.execute(
        "SELECT count(*) FROM banking_hour_stats WHERE hour >= %(h11)s AND hour < %(h13)s", bounds
    ).fetchone()
    periods = loaded.execute(
        "SELECT period_start, count(*) FROM banking_stats_between(%(start)s, %(end)s) GROUP BY 1 ORDER BY 1",
        bounds,
    ).fetchall()
    inside = [(t, n) for t, n in periods if at(11) <= t < at(13)]
    assert [t for t, _ in inside] == [at(11), at(12)] and sum(n for _, n in inside) == hour_rows > 0
    outside = [t for t, _ in periods if not at(11) <= t < at(13)]
    assert outside[0] == at(10, 31) and outside[-1] == at(13, 5)
    (minute_rows,) = loaded.execute(
        "SELECT count(*) FROM banking_minute_stats WHERE minute BETWEEN %(start)s AND %(end)s", bounds
    ).fetchone()
    for step in (60000, 1800000):  # buckets of one minute, half an hour: no hour may be split
        (n,) = loaded.execute(
            "SELECT count(*) FROM banking_stats_between(%(start)s, %(end)s, %(step)s)",
            {**bounds, "step": step},
        ).fetchone()
        assert n == minute_rows
    within = RANGES["within an hour"]
    periods = loaded.execute(
        "SELECT DISTINCT period_start FROM banking_rule_hits_between(%s, %s) ORDER BY 1",
        (within.start, within.end),
    ).fetchall()
    assert periods[0] == (at(11, 15),) and periods[-1] == (at(11, 45),) and len(periods) == 31


def test_hourly_answers_agree_with_banking_data(loaded: psycopg.Connection) -> None:
    """The checks of test_panel_queries (stats, types, series, rules, precision and recall against
    banking_data) on ranges with whole hours and days."""
    for name in ("edges", "aligned", "everything", *DAY_RANGES):
        time_range = RANGES[name]
        check_stats(loaded, time_range)
        check_types_and_series(loaded, time_range)
        check_rules(loaded, time_range)
        check_precision_and_recall(loaded, time_range)


SERIES_CASES = [
    *((timedelta(hours=1), name) for name in ("edges", "aligned", "everything", "within an hour")),
    *((timedelta(days=1), name) for name in ("a day and its edges", "hour aligned", "three days")),
]


@pytest.mark.parametrize(("bucket", "name"), SERIES_CASES, ids=[f"{b}-{n}" for b, n in SERIES_CASES])
def test_hourly_and_daily_series_agree_with_banking_data(
    loaded: psycopg.Connection, bucket: timedelta, name: str
) -> None:
    """Transactions per minute by decision at one-hour and one-day buckets: each UTC hour's or
    day's transactions per minute."""
    time_range = TimeRange(RANGES[name].start, RANGES[name].end, bucket)
    seconds = int(bucket.total_seconds())
    expected = raw(
        loaded,
        f"""
        SELECT floor(extract(epoch FROM date_trunc('minute', "timestamp")) / {seconds}) * {seconds}, decision,
               count(*) * 60000.0 / {seconds * 1000}
        FROM banking_data WHERE {{range}} GROUP BY 1, 2 ORDER BY 1, 2
        """,
        time_range,
    )
    assert rows(loaded, PANELS["Transactions per minute by decision"].sql, time_range) == expected != []


def test_blacklisted_holders_agree_with_banking_data(loaded: psycopg.Connection) -> None:
    """Every holder's count (not only the top ten) over each range, against the blacklist table."""
    for name, time_range in RANGES.items():
        expected = raw(
            loaded,
            """
            SELECT a.holder_name, count(*)
            FROM banking_data d JOIN blacklist b USING (account_id) JOIN accounts a USING (account_id)
            WHERE {range} GROUP BY 1
            """.replace('"timestamp"', 'd."timestamp"'),
            time_range,
            per_minute=False,
        )
        got = loaded.execute(
            "SELECT account_holder_name, sum(txns) FROM banking_blacklisted_between(%s, %s) GROUP BY 1",
            (time_range.start, time_range.end),
        ).fetchall()
        assert dict(got) == dict(expected), name
        assert (name == "no data") == (expected == [])


def test_whole_days_come_from_the_daily_rollups(loaded: psycopg.Connection) -> None:
    """For 'a day and its edges': one row per (day, ...) key for DAY, minutes around it, when the
    buckets are whole days (none, or one day); hours and minutes for buckets of an hour; a range that
    misses the last half second of a day reads its hours instead."""
    edges = RANGES["a day and its edges"]
    bounds = {"start": edges.start, "end": edges.end, "day": DAY}
    (day_rows,) = loaded.execute(
        "SELECT count(*) FROM banking_day_stats WHERE day = %(day)s", bounds
    ).fetchone()
    (hour_rows,) = loaded.execute(
        "SELECT count(*) FROM banking_hour_stats WHERE hour >= %(day)s AND hour < %(day)s + interval '1 day'",
        bounds,
    ).fetchone()
    assert 0 < day_rows < hour_rows
    for step in (0, 86400000):
        periods = loaded.execute(
            "SELECT period_start, count(*) FROM banking_stats_between(%(start)s, %(end)s, %(step)s) "
            "GROUP BY 1 ORDER BY 1",
            {**bounds, "step": step},
        ).fetchall()
        inside = [(t, n) for t, n in periods if DAY <= t < NEXT_DAY]
        assert inside == [(DAY, day_rows)], step
        outside = [t for t, _ in periods if not DAY <= t < NEXT_DAY]
        assert outside[0] == DAY - timedelta(minutes=19) and outside[-1] == NEXT_DAY + timedelta(minutes=5)
        assert all(t.second == 0 for t in outside) and len(outside) == 19 + 6, step
    for function in (
        "banking_rule_hits_between(%(start)s, %(end)s)",
        "banking_blacklisted_between(%(start)s, %(end)s)",
    ):
        periods = loaded.execute(f"SELECT DISTINCT period_start FROM {function}", bounds).fetchall()
        assert [t for (t,) in periods if DAY <= t < NEXT_DAY] == [DAY], function
    hourly = loaded.execute(
        "SELECT DISTINCT period_start FROM banking_stats_between(%(start)s, %(end)s, 3600000) "
        "WHERE period_start >= %(day)s AND period_start < %(day)s + interval '1 day' ORDER BY 1",
        bounds,
    ).fetchall()
    assert [t for (t,) in hourly] == [at(0), at(10), at(11), at(12), at(13), at(23)]
    short = RANGES["a day but half a second"]
    periods = loaded.execute(
        "SELECT DISTINCT period_start FROM banking_stats_between(%s, %s) ORDER BY 1", (short.start, short.end)
    ).fetchall()
    assert [t for (t,) in periods][:5] == [at(0), at(10), at(11), at(12), at(13)]
    assert [t for (t,) in periods][5:] == [at(23, m) for m in range(50, 60)]


# Each function's totals against the per-minute rollups (the blacklisted ones against banking_data's
# rows) over the same range, both ends included.
FUNCTION_TOTALS = {
    "stats": (
        """SELECT trans_type, decision, injected_fraud, sum(txns), sum(amount)
           FROM banking_stats_between(%(start)s, %(end)s, %(step)s) GROUP BY 1, 2, 3""",
        """SELECT trans_type, decision, injected_fraud, sum(txns), sum(amount)
           FROM banking_minute_stats WHERE minute BETWEEN %(start)s AND %(end)s GROUP BY 1, 2, 3""",
    ),
    "rule hits": (
        """SELECT rule_id, decision, injected_fraud, sum(hits), sum(amount)
           FROM banking_rule_hits_between(%(start)s, %(end)s, %(step)s) GROUP BY 1, 2, 3""",
        """SELECT rule_id, decision, injected_fraud, sum(hits), sum(amount)
           FROM banking_minute_rule_hits WHERE minute BETWEEN %(start)s AND %(end)s GROUP BY 1, 2, 3""",
    ),
    "blacklisted": (
        """SELECT account_holder_name, sum(txns) FROM banking_blacklisted_between(%(start)s, %(end)s)
           GROUP BY 1""",
        """SELECT account_holder_name, count(*) FROM banking_data
           WHERE account_blacklisted AND "timestamp" BETWEEN %(start)s AND %(end)s GROUP BY 1""",
    ),
}


@pytest.mark.parametrize("step_ms", [0, 60000, 3600000, 86400000])
@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York"])
def test_functions_total_exactly_as_the_minutes_and_rows(
    loaded: psycopg.Connection, step_ms: int, time_zone: str
) -> None:
    """Every range, with and without whole days and hours, edges on and off their boundaries; in a
    session whose time zone left summer time on the UTC day before DAY too (the days are UTC days)."""
    loaded.execute("SELECT set_config('TimeZone', %s, false)", (time_zone,))
    compared = 0
    for name, time_range in RANGES.items():
        params = {"start": time_range.start, "end": time_range.end, "step": step_ms}
        for function, (new, old) in FUNCTION_TOTALS.items():
            got, want = (set(loaded.execute(query, params).fetchall()) for query in (new, old))
            assert got == want, (name, function)
            compared += bool(want)
    assert compared == 3 * (len(RANGES) - 1)  # all but "no data" have some of each
