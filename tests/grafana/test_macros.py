"""The test macro expander matches Grafana's own macro tests (macros_test.go), case by case, and
the interval it uses follows Grafana's rangeutil (calculateInterval, roundInterval)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.grafana.macros import (
    MacroError,
    TimeRange,
    expand,
    grafana_interval,
    interval_to_ms,
    round_interval,
)

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=timezone.utc)
RANGE = TimeRange(FROM, FROM + timedelta(minutes=5), interval=timedelta(minutes=10))


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select $__time(time_column)", 'select time_column AS "time"'),
        (
            "WHERE $__timeFilter(time_column)",
            "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
        ),
        ("select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
        ("select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
        ("SELECT $__timeGroup(time_column,'5m')", "SELECT floor(extract(epoch from time_column)/300)*300"),
        (
            "SELECT $__timeGroupAlias(time_column , '5m')",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time"',
        ),
        (
            "SELECT $__timeGroup(time_column,'5m'), value",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value',
        ),
        ("select $__unixEpochFilter(time)", "select time >= 1523556000 AND time <= 1523556300"),
        ("SELECT $__interval, $__interval_ms", "SELECT 10m, 600000"),
        ("SELECT $__unixEpochFrom(), $__unixEpochTo()", "SELECT 1523556000, 1523556300"),
    ],
)
def test_expands_like_grafana(sql: str, expected: str) -> None:
    assert expand(sql, RANGE) == expected


def test_fractional_seconds_are_rfc3339nano() -> None:
    start = datetime(1960, 2, 1, 7, 0, 0, 500000, tzinfo=timezone.utc)
    end = datetime(1980, 2, 3, 8, 0, 0, 500000, tzinfo=timezone.utc)
    assert expand("$__timeFilter(t)", TimeRange(start, end)) == (
        "t BETWEEN '1960-02-01T07:00:00.5Z' AND '1980-02-03T08:00:00.5Z'"
    )


@pytest.mark.parametrize(
    "sql", ["SELECT $__nope(x)", "SELECT $__timeGroup(x)", "SELECT $__timeGroup(x, 'soon')"]
)
def test_refuses_what_grafana_refuses(sql: str) -> None:
    with pytest.raises(MacroError):
        expand(sql, RANGE)


# --- the interval Grafana gives a query (rangeutil.calculateInterval) -----------------------------


@pytest.mark.parametrize(
    ("raw_ms", "nice_ms"),
    [
        (3600, 5000),  # an hour over 1,000 points: 5s
        (7499, 5000),
        (7500, 10000),  # the bounds are exclusive, as in rangeutil.ts
        (44999, 30000),
        (45000, 60000),
        (89999, 60000),
        (1728000, 1800000),  # 30 days over 1,500 points: 30m
        (2592000, 1800000),  # 30 days over 1,000 points: 30m
        (3600000, 3600000),  # 30 days over 720 points: 1h
        (5184000, 3600000),  # 30 days over 500 points: 1h
        (5400000, 7200000),
        (86400000, 86400000),
        (3628800000, 31536000000),
    ],
)
def test_round_interval_is_grafanas_table(raw_ms: int, nice_ms: int) -> None:
    assert round_interval(raw_ms) == nice_ms


@pytest.mark.parametrize(
    ("text", "ms"), [("1m", 60000), ("2h", 7200000), ("30", 30000), ("500ms", 500), ("1M", 2592000000)]
)
def test_min_interval_parses_like_grafana(text: str, ms: int) -> None:
    assert interval_to_ms(text) == ms


def test_grafana_interval_divides_rounds_and_clamps() -> None:
    end = FROM + timedelta(days=30)
    assert grafana_interval(end - timedelta(hours=1), end) == timedelta(seconds=5)
    assert grafana_interval(end - timedelta(hours=1), end, min_interval="1m") == timedelta(minutes=1)
    assert grafana_interval(FROM, end) == timedelta(minutes=30)  # DEFAULT_MAX_DATA_POINTS = 1,000
    assert grafana_interval(FROM, end, max_data_points=720, min_interval="1m") == timedelta(hours=1)
    assert grafana_interval(FROM, end, max_data_points=720, min_interval="2h") == timedelta(hours=2)
    thirty_days = TimeRange(FROM, end, grafana_interval(FROM, end, 720, "1m"))
    assert expand("$__timeGroupAlias(t, $__interval), $__interval_ms", thirty_days) == (
        'floor(extract(epoch from t)/3600)*3600 AS "time", 3600000'
    )
