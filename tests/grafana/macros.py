"""Grafana's PostgreSQL macros, expanded the way Grafana's server does before it runs a query.

A port of ``sqleng.Interpolate`` (``$__interval``, ``$__interval_ms``, ``$__unixEpochFrom()``,
``$__unixEpochTo()``) followed by the PostgreSQL data source's macro engine
(``pkg/tsdb/grafana-postgresql-datasource/macros.go``, TimescaleDB off), so that the tests run
exactly the SQL Grafana would send for a given time range.

The interval comes from the browser: Grafana's ``rangeutil.calculateInterval``
(``packages/grafana-data/src/datetime/rangeutil.ts``) divides the time range by the panel's
"Max data points" (its width in pixels when unset), rounds it with ``roundInterval`` and raises it
to the panel's "Min interval". :func:`grafana_interval` and :func:`for_panel` do the same.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
_INTERVAL = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class MacroError(ValueError):
    """A macro Grafana would refuse too (unknown name, missing argument, bad interval)."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """The dashboard's time range and the query's interval, as Grafana hands them to the data source."""

    start: datetime
    end: datetime
    interval: timedelta = timedelta(minutes=1)


# rangeutil.roundInterval: (raw interval below this many ms, the interval it rounds to in ms).
_ROUND_INTERVAL_MS = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000),
    (3500, 2000), (7500, 5000), (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000),
    (90000, 60000), (210000, 120000), (450000, 300000), (750000, 600000), (1050000, 900000),
    (1500000, 1200000), (2700000, 1800000), (5400000, 3600000), (9000000, 7200000),
    (16200000, 10800000), (32400000, 21600000), (86400000, 43200000), (604800000, 86400000),
    (1814400000, 604800000), (3628800000, 2592000000),
)  # fmt: skip
_ROUND_INTERVAL_ABOVE_MS = 31536000000  # 1y
# A panel without "Max data points" gets its width in pixels: about 1,000 for a half-width panel
# on a wide screen (the time series here are half-width). An assumption; set maxDataPoints to pin it.
DEFAULT_MAX_DATA_POINTS = 1000
# rangeutil.describeInterval: a number and a unit, or a bare number of seconds.
_GRAFANA_INTERVAL = re.compile(r"^(-?\d+(?:\.\d+)?)(ms|[Mwdhmsy])")
_GRAFANA_UNIT_SECONDS = {"y": 31536000, "M": 2592000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def round_interval(ms: float) -> int:
    """Grafana's ``roundInterval``: a raw interval in ms rounded to a "nice" one (5s, 1m, 30m, 1h...)."""
    for below, nice in _ROUND_INTERVAL_MS:
        if ms < below:
            return nice
    return _ROUND_INTERVAL_ABOVE_MS


def interval_to_ms(text: str) -> int:
    """Grafana's ``intervalToMs`` for a panel's "Min interval", e.g. '1m' -> 60000."""
    try:
        return int(float(text) * 1000)
    except ValueError:
        pass
    match = _GRAFANA_INTERVAL.match(text)
    if not match:
        raise MacroError(f"invalid interval string {text!r}")
    count = int(match[1].split(".")[0])  # parseInt
    return count if match[2] == "ms" else count * _GRAFANA_UNIT_SECONDS[match[2]] * 1000


def grafana_interval(
    start: datetime, end: datetime, max_data_points: int | None = None, min_interval: str | None = None
) -> timedelta:
    """The ``$__interval`` Grafana gives a panel's query (``calculateInterval``): the range divided by
    ``max_data_points`` (:data:`DEFAULT_MAX_DATA_POINTS` when the panel sets none), rounded, and at
    least ``min_interval``."""
    span_ms = (end - start) / timedelta(milliseconds=1)
    ms = round_interval(span_ms / (max_data_points or DEFAULT_MAX_DATA_POINTS))
    if min_interval:
        ms = max(ms, interval_to_ms(min_interval))
    return timedelta(milliseconds=ms)


def for_panel(start: datetime, end: datetime, panel: Any) -> TimeRange:
    """The time range and interval Grafana would query ``panel`` (a ``build_dashboard.Panel``) with."""
    interval = grafana_interval(start, end, panel.max_data_points, panel.interval)
    return TimeRange(start, end, interval)


def rfc3339nano(moment: datetime) -> str:
    """Go's ``time.RFC3339Nano`` of a UTC time: no trailing zeros in the fraction, ``Z`` for UTC."""
    moment = moment.astimezone(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def go_float(value: float) -> str:
    """Go's ``%v`` of a float64 for the intervals dashboards use (60 -> '60', 0.5 -> '0.5')."""
    text = f"{value:g}"
    return text if float(text) == value else repr(value)


def format_interval(interval: timedelta) -> str:
    """Grafana's ``gtime.FormatInterval``: the largest whole unit, e.g. '1m', '30s', '2h'."""
    ms = interval // timedelta(milliseconds=1)
    for unit, size in (("y", 31536000000), ("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000)):
        if ms >= size:
            return f"{ms // size}{unit}"
    return f"{ms}ms" if ms >= 1 else "1ms"


def parse_interval(text: str) -> float:
    """Seconds of an interval such as '1m' or '5m' (Grafana's ``gtime.ParseInterval``)."""
    match = _INTERVAL.match(text.strip().strip("'"))
    if not match:
        raise MacroError(f"error parsing interval {text}")
    return float(match[1]) * _UNIT_SECONDS[match[2]]


def _epoch(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def expand(sql: str, time_range: TimeRange) -> str:
    """``sql`` with every Grafana macro replaced for ``time_range``."""
    start, end = time_range.start, time_range.end
    sql = sql.replace("$__interval_ms", str(time_range.interval // timedelta(milliseconds=1)))
    sql = sql.replace("$__interval", format_interval(time_range.interval))
    sql = sql.replace("$__unixEpochFrom()", str(_epoch(start)))
    sql = sql.replace("$__unixEpochTo()", str(_epoch(end)))

    def replace(match: re.Match[str]) -> str:
        name = match[1]
        # Grafana < 5.3 compatibility: $__timeGroup(...) directly followed by ',' gets an alias.
        if name == "__timeGroup" and match.string[match.end() : match.end() + 1] == ",":
            name = "__timeGroupAlias"
        args = [arg.strip() for arg in match[2].split(",")]
        return _evaluate(name, args, start, end)

    return _MACRO.sub(replace, sql)


def _evaluate(name: str, args: list[str], start: datetime, end: datetime) -> str:
    column = args[0]  # like Go's strings.Split, an empty argument list is [""]
    if name == "__time":
        return f'{column} AS "time"'
    if name == "__timeEpoch":
        return f'extract(epoch from {column}) as "time"'
    if name == "__timeFilter":
        return f"{column} BETWEEN '{rfc3339nano(start)}' AND '{rfc3339nano(end)}'"
    if name == "__timeFrom":
        return f"'{rfc3339nano(start)}'"
    if name == "__timeTo":
        return f"'{rfc3339nano(end)}'"
    if name in ("__timeGroup", "__timeGroupAlias"):
        if len(args) < 2:
            raise MacroError(f"macro {name} needs time column and interval and optional fill value")
        seconds = go_float(parse_interval(args[1]))
        group = f"floor(extract(epoch from {args[0]})/{seconds})*{seconds}"
        return group + ' AS "time"' if name == "__timeGroupAlias" else group
    if name == "__unixEpochFilter":
        return f"{column} >= {_epoch(start)} AND {column} <= {_epoch(end)}"
    raise MacroError(f"unknown macro {name!r}")
