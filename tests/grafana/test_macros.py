"""The test macro expander matches Grafana's own macro tests (macros_test.go), case by case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.grafana.macros import MacroError, TimeRange, expand

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
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
    start = datetime(1960, 2, 1, 7, 0, 0, 500000, tzinfo=UTC)
    end = datetime(1980, 2, 3, 8, 0, 0, 500000, tzinfo=UTC)
    assert expand("$__timeFilter(t)", TimeRange(start, end)) == (
        "t BETWEEN '1960-02-01T07:00:00.5Z' AND '1980-02-03T08:00:00.5Z'"
    )


@pytest.mark.parametrize(
    "sql", ["SELECT $__nope(x)", "SELECT $__timeGroup(x)", "SELECT $__timeGroup(x, 'soon')"]
)
def test_refuses_what_grafana_refuses(sql: str) -> None:
    with pytest.raises(MacroError):
        expand(sql, RANGE)
