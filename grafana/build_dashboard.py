"""The Grafana dashboard and alert rules of the banking pipeline, as code.

The single source of truth for every panel (title, type, position, SQL, field config) and every
alert rule. Run it to rewrite the provisioned files after a change:

    python grafana/build_dashboard.py          # writes dashboards/banking.json and the alert rules
    python grafana/build_dashboard.py --check  # exits 1 when a committed file differs

Panels read the rollups where they can, through functions (migration 0008) that sum the hourly
rollups for the whole hours of the time range and the per-minute rollups for the partial hours at
its edges; "Latest rejected transactions" lists rows of ``banking_data`` through a partial index;
the pipeline-health panels read the audit trail ``banking_batches``. Every query honours the
dashboard's time range (``$__timeFilter``, or ``$__timeFrom()`` and ``$__timeTo()`` passed to the
rollup functions), except "Last load age", measured from now, and the backtest table.

Time series group by Grafana's ``$__interval``: at least ``MIN_INTERVAL`` (the data is per
minute), and the time range / ``TIME_SERIES_MAX_DATA_POINTS`` rounded by Grafana, e.g. 1 minute
for the default hour and 1 hour for 30 days, where they read the hourly rollups.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from textwrap import dedent
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack and the *_Head spelling are 3.11+

GRAFANA_DIR = Path(__file__).resolve().parent
DASHBOARD_FILE = GRAFANA_DIR / "dashboards" / "banking.json"
ALERTING_FILE = GRAFANA_DIR / "provisioning" / "alerting" / "banking.yaml"

DATASOURCE_UID = "banking-postgres"
DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
DASHBOARD_UID = "banking-monitoring"
DASHBOARD_TITLE = "Real-Time Banking Transaction Monitoring"
FOLDER = "Banking"
# Dashboard JSON model version this file is written for; newer Grafana versions migrate it on load.
SCHEMA_VERSION = 39

ROLLUP, RAW, AUDIT, BACKTEST = "rollup", "raw", "audit", "backtest"
# Every panel's "Min interval": the rollups are per minute, so no time bucket is shorter.
MIN_INTERVAL = "1m"
# "Max data points" of the time series that read the rollups. Grafana's $__interval is the time
# range / max data points, rounded to a "nice" interval (rangeutil.roundInterval) and at least
# MIN_INTERVAL: 1 minute up to about 18 hours, 1 hour for 30 days, whatever the panel's width in
# pixels (which Grafana would use otherwise), so that a month reads hours, not 43,200 minutes.
TIME_SERIES_MAX_DATA_POINTS = 720
DECISION_COLORS = {"Approved": "green", "Review": "orange", "Rejected": "red"}
# Bar chart labels (rule ids, holder names) longer than this are cut with "...".
BAR_LABEL_MAX_LENGTH = 40
# Every table column's defaults. Grafana 12.2 keeps the footer per field (custom.footer), no longer in
# the table's options; no reducers: no footer row.
_TABLE_FIELD: dict[str, Any] = {
    "align": "auto",
    "filterable": True,
    "inspect": False,
    "cellOptions": {"type": "auto"},
    "footer": {"reducers": []},
}
# Precision and recall, wherever they are shown: a fraction in SQL, a percentage with one decimal on
# screen, as a gauge from 0 to 100%.
_RATIO_FIELD: dict[str, Any] = {
    "unit": "percentunit",
    "decimals": 1,
    "min": 0,
    "max": 1,
    "custom.cellOptions": {"type": "gauge", "mode": "basic"},
}


def _sql(text: str) -> str:
    return dedent(text).strip()


@dataclass(frozen=True, slots=True)
class Panel:
    """One dashboard panel: what it shows, where, and the SQL behind it."""

    id: int
    title: str
    type: str  # a built-in Grafana visualization: stat, timeseries, piechart, barchart, table
    grid: tuple[int, int, int, int]  # x, y, w, h on Grafana's 24-column grid
    sql: str
    format: str  # "table" or "time_series"
    source: str  # ROLLUP, RAW or AUDIT: which kind of table the SQL reads
    description: str
    field_config: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    max_data_points: int | None = None  # Grafana's "Max data points"; None: the panel's width
    interval: str = MIN_INTERVAL  # Grafana's "Min interval": the shortest $__interval

    def as_json(self) -> dict[str, Any]:
        x, y, w, h = self.grid
        limits: dict[str, Any] = {"interval": self.interval}
        if self.max_data_points is not None:
            limits["maxDataPoints"] = self.max_data_points
        return {
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "gridPos": {"h": h, "w": w, "x": x, "y": y},
            "datasource": dict(DATASOURCE),
            **limits,
            "targets": [
                {
                    "refId": "A",
                    "datasource": dict(DATASOURCE),
                    "editorMode": "code",
                    "format": self.format,
                    "rawQuery": True,
                    "rawSql": self.sql,
                }
            ],
            "fieldConfig": self.field_config,
            "options": self.options,
        }


@dataclass(frozen=True, slots=True)
class AlertRule:
    """A Grafana-managed alert rule on one SQL value: fires when it is above ``threshold``.

    ``env_var`` overrides the threshold in the compose stack (docker/grafana/render-alerts.sh):
    Grafana interpolates environment variables in provisioning files, but not inside a query's
    model, where the threshold lives.
    """

    uid: str
    title: str
    sql: str
    threshold: float
    env_var: str
    lookback_seconds: int
    pending: str
    summary: str
    description: str


# --- field config and options per visualization -------------------------------------------------


def _thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


def _by_name(name: str, **properties: Any) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def _decision_colors() -> list[dict[str, Any]]:
    return [_by_name(d, color={"mode": "fixed", "fixedColor": c}) for d, c in DECISION_COLORS.items()]


# What every panel builder takes first, positionally: id, title, grid (x, y, w, h), SQL, description.
_Head = tuple[int, str, tuple[int, int, int, int], str, str]


def _panel(
    head: _Head,
    type: str,
    format: str,
    source: str,
    field_config: dict[str, Any],
    options: dict[str, Any],
    max_data_points: int | None = None,
) -> Panel:
    id, title, grid, sql, description = head
    return Panel(
        id, title, type, grid, sql, format, source, description, field_config, options, max_data_points
    )


def _stat(
    *head: Unpack[_Head],
    source: str = ROLLUP,
    unit: str = "short",
    color: str | None = None,
    thresholds: dict[str, Any] | None = None,
    decimals: int | None = None,
    no_value: str | None = None,
) -> Panel:
    defaults: dict[str, Any] = {
        "unit": unit,
        "color": {"mode": "fixed", "fixedColor": color} if color else {"mode": "thresholds"},
        "thresholds": thresholds or _thresholds((None, "green")),
    }
    if decimals is not None:
        defaults["decimals"] = decimals
    if no_value is not None:
        defaults["noValue"] = no_value
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "value",
        "wideLayout": True,
        "showPercentChange": False,
        "percentChangeColorMode": "standard",
    }
    return _panel(head, "stat", "table", source, {"defaults": defaults, "overrides": []}, options)


def _timeseries(
    *head: Unpack[_Head],
    source: str = ROLLUP,
    unit: str = "short",
    draw: str = "line",
    stack: bool = False,
    overrides: list[dict[str, Any]] | None = None,
    max_data_points: int | None = None,
) -> Panel:
    custom = {
        "drawStyle": draw,
        "lineWidth": 1,
        "fillOpacity": 60 if draw == "bars" else 10,
        "showPoints": "never",
        "spanNulls": False,
        "axisSoftMin": 0,
        "stacking": {"group": "A", "mode": "normal" if stack else "none"},
    }
    field_config = {"defaults": {"unit": unit, "custom": custom}, "overrides": overrides or []}
    options = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return _panel(head, "timeseries", "time_series", source, field_config, options, max_data_points)


def _barchart(*head: Unpack[_Head], x_field: str, source: str = ROLLUP, color: str = "blue") -> Panel:
    field_config = {
        "defaults": {"unit": "short", "color": {"mode": "fixed", "fixedColor": color}},
        "overrides": [],
    }
    options = {
        "xField": x_field,
        "orientation": "horizontal",
        "showValue": "auto",
        "stacking": "none",
        "barWidth": 0.8,
        "groupWidth": 0.7,
        "xTickLabelRotation": 0,
        "xTickLabelSpacing": 0,
        "xTickLabelMaxLength": BAR_LABEL_MAX_LENGTH,
        "fullHighlight": False,
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False, "calcs": []},
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return _panel(head, "barchart", "table", source, field_config, options)


def _table(*head: Unpack[_Head], source: str, overrides: list[dict[str, Any]]) -> Panel:
    field_config = {"defaults": {"custom": _TABLE_FIELD}, "overrides": overrides}
    options = {"showHeader": True, "cellHeight": "sm", "frameIndex": 0}
    return _panel(head, "table", "table", source, field_config, options)


# --- the panels ---------------------------------------------------------------------------------

_REJECTION_RATE_SQL = _sql(
    """
    SELECT sum(txns) FILTER (WHERE decision = 'Rejected')::float8 / nullif(sum(txns), 0) AS rejection_rate
    FROM banking_stats_between($__timeFrom(), $__timeTo())
    """
)


def _per_minute(function: str, metric: str, column: str, alias: str, where: str = "") -> str:
    """A time series' SQL: one series per ``metric``, its value per minute the sum of ``column`` over
    its $__interval bucket divided by the bucket's minutes, read through the rollup ``function``."""
    lines = [
        f"SELECT $__timeGroupAlias(period_start, $__interval), {metric} AS metric,",
        f"       sum({column}) * 60000.0 / $__interval_ms AS {alias}",
        f"FROM {function}($__timeFrom(), $__timeTo(), $__interval_ms)",
        *([where] if where else []),
        "GROUP BY 1, 2",
        "ORDER BY 1, 2",
    ]
    return "\n".join(lines)


# The original dashboard's four stats: (id, title, x, summed column, its alias, decision, unit, description).
_DECISION_TOTALS = (
    (1, "Rejected Transactions", 0, "txns", "rejected", "Rejected", "short", "Transactions rejected in the time range."),
    (
        2, "Approved Transactions", 4, "txns", "approved", "Approved", "short",
        "Transactions approved in the time range (Review is neither approved nor rejected).",
    ),
    (
        3, "Total Approved Amount", 8, "amount", "total_approved", "Approved", "currencyUSD",
        "Sum of the approved transactions' amounts in USD.",
    ),
    (
        4, "Total Rejected Amount", 12, "amount", "total_rejected", "Rejected", "currencyUSD",
        "Sum of the rejected transactions' amounts in USD.",
    ),
)  # fmt: skip


def _decision_total(
    id: int, title: str, x: int, column: str, alias: str, decision: str, unit: str, description: str
) -> Panel:
    """A stat of row 1: the range's ``column`` (txns or amount) summed over one decision, in its colour."""
    query = f"""
        SELECT coalesce(sum({column}), 0) AS {alias}
        FROM banking_stats_between($__timeFrom(), $__timeTo())
        WHERE decision = '{decision}'
        """
    return _stat(
        id, title, (x, 0, 4, 4), _sql(query), description, unit=unit, color=DECISION_COLORS[decision]
    )


PANELS: tuple[Panel, ...] = (
    # Row 1: the original dashboard's four stats, the rejection rate and the freshness of the data.
    *(_decision_total(*row) for row in _DECISION_TOTALS),
    _stat(
        5,
        "Rejection rate",
        (16, 0, 4, 4),
        _REJECTION_RATE_SQL,
        "Rejected transactions / all transactions in the time range. The alert rule "
        "'Rejection rate spike' watches the same ratio over the last 5 minutes.",
        unit="percentunit",
        decimals=1,
        thresholds=_thresholds((None, "green"), (0.05, "orange"), (0.1, "red")),
        no_value="no traffic",
    ),
    _stat(
        6,
        "Last load age",
        (20, 0, 4, 4),
        _sql(
            """
            SELECT extract(epoch FROM now() - max(finished_at)) AS seconds_since_last_load
            FROM banking_batches
            """
        ),
        "Seconds since the last window was loaded (banking_batches.finished_at), measured from now "
        "whatever the time range. A window loads every minute, so anything above 2 minutes means "
        "the pipeline is behind.",
        source=AUDIT,
        unit="s",
        decimals=0,
        thresholds=_thresholds((None, "green"), (120, "orange"), (300, "red")),
        no_value="no load yet",
    ),
    # Row 2: volumes over time.
    _timeseries(
        7,
        "Transactions per minute by decision",
        (0, 4, 12, 8),
        _per_minute("banking_stats_between", "decision", "txns", "transactions"),
        "Transactions per minute, stacked by decision. Over longer ranges a bar covers several "
        "minutes (1 hour over 30 days) and shows their average per minute.",
        draw="bars",
        stack=True,
        overrides=_decision_colors(),
        max_data_points=TIME_SERIES_MAX_DATA_POINTS,
    ),
    _timeseries(
        8,
        "Approved and rejected amounts per minute",
        (12, 4, 12, 8),
        _per_minute(
            "banking_stats_between",
            "decision",
            "amount",
            "amount",
            "WHERE decision IN ('Approved', 'Rejected')",
        ),
        "USD approved and rejected per minute. Over longer ranges a point covers several minutes "
        "(1 hour over 30 days) and shows their average per minute.",
        unit="currencyUSD",
        overrides=_decision_colors(),
        max_data_points=TIME_SERIES_MAX_DATA_POINTS,
    ),
    # Row 3: the original dashboard's three charts.
    Panel(
        9,
        "Transaction Types",
        "piechart",
        (0, 12, 6, 9),
        _sql(
            """
            SELECT trans_type, sum(txns) AS count
            FROM banking_stats_between($__timeFrom(), $__timeTo())
            GROUP BY trans_type
            ORDER BY trans_type
            """
        ),
        "table",
        ROLLUP,
        "Transactions per type in the time range.",
        {"defaults": {"unit": "short", "color": {"mode": "palette-classic"}}, "overrides": []},
        {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
            "pieType": "pie",
            "sort": "desc",
            "orientation": "auto",
            "displayLabels": ["percent"],
            "legend": {
                "displayMode": "table",
                "placement": "right",
                "showLegend": True,
                "values": ["value"],
                "calcs": [],
            },
            "tooltip": {"mode": "single", "sort": "none"},
        },
    ),
    _barchart(
        10,
        "Rules Triggered",
        (6, 12, 9, 9),
        _sql(
            """
            SELECT rule_id AS rule, sum(hits) AS hits
            FROM banking_rule_hits_between($__timeFrom(), $__timeTo())
            GROUP BY rule_id
            ORDER BY hits DESC, rule_id
            """
        ),
        "Hits per rule in the time range, all transaction types. A transaction that triggers two "
        "rules counts for both.",
        x_field="rule",
        color="orange",
    ),
    _barchart(
        11,
        "Blacklisted Account Transactions",
        (15, 12, 9, 9),
        _sql(
            """
            SELECT account_holder_name, sum(txns) AS transaction_count
            FROM banking_blacklisted_between($__timeFrom(), $__timeTo())
            GROUP BY account_holder_name
            ORDER BY transaction_count DESC, account_holder_name
            LIMIT 10
            """
        ),
        "The ten blacklisted account holders with the most transactions in the time range.",
        x_field="account_holder_name",
        color="red",
    ),
    # Row 4: how the rules behave.
    _timeseries(
        12,
        "Rules triggered per minute",
        (0, 21, 12, 8),
        _per_minute("banking_rule_hits_between", "rule_id", "hits", "hits"),
        "Hits per rule per minute. Over longer ranges a point covers several minutes (1 hour over "
        "30 days) and shows their average per minute.",
        max_data_points=TIME_SERIES_MAX_DATA_POINTS,
    ),
    _table(
        13,
        "Rule precision and recall (injected fraud)",
        (12, 21, 12, 8),
        _sql(
            """
            WITH fraud AS (
                SELECT coalesce(sum(txns), 0) AS injected
                FROM banking_stats_between($__timeFrom(), $__timeTo())
                WHERE injected_fraud
            ),
            per_rule AS (
                SELECT rule_id AS rule, sum(hits) AS hits,
                       coalesce(sum(hits) FILTER (WHERE injected_fraud), 0) AS fraud_hits
                FROM banking_rule_hits_between($__timeFrom(), $__timeTo())
                GROUP BY rule_id
                UNION ALL
                SELECT 'Rejected (decision)', sum(txns),
                       coalesce(sum(txns) FILTER (WHERE injected_fraud), 0)
                FROM banking_stats_between($__timeFrom(), $__timeTo())
                WHERE decision = 'Rejected'
                HAVING sum(txns) > 0
            )
            SELECT r.rule, r.hits, r.fraud_hits, f.injected AS injected_fraud,
                   r.fraud_hits::float8 / r.hits AS precision,
                   r.fraud_hits::float8 / nullif(f.injected, 0) AS recall
            FROM per_rule r CROSS JOIN fraud f
            ORDER BY precision DESC, r.rule
            """
        ),
        "Against the injected ground truth: precision = hits on injected fraud / hits; recall = "
        "hits on injected fraud / all injected fraud transactions in the time range. The last row "
        "scores the Rejected decision as a whole.",
        source=ROLLUP,
        overrides=[_by_name(name, **_RATIO_FIELD) for name in ("precision", "recall")],
    ),
    # Row 5: the rows behind the numbers.
    _table(
        14,
        "Latest rejected transactions",
        (0, 29, 24, 10),
        _sql(
            """
            SELECT "timestamp" AS "time", account_holder_name AS holder, amount,
                   merchant_name AS merchant, country, rules_triggered, rules_explanation
            FROM banking_data
            WHERE $__timeFilter("timestamp") AND decision = 'Rejected'
            ORDER BY "timestamp" DESC
            LIMIT 50
            """
        ),
        "The 50 most recent rejected transactions in the time range.",
        source=RAW,
        overrides=[_by_name("amount", unit="currencyUSD"), _by_name("time", **{"custom.width": 190})],
    ),
    # Row 6: pipeline health, from the audit trail.
    _stat(
        15,
        "Windows loaded",
        (0, 39, 4, 7),
        _sql(
            """
            SELECT count(*) AS windows
            FROM banking_batches
            WHERE $__timeFilter(window_end)
            """
        ),
        "Data windows loaded in the time range: one per minute when the pipeline keeps up.",
        source=AUDIT,
        color="blue",
    ),
    _timeseries(
        16,
        "Rows per window",
        (4, 39, 10, 7),
        _sql(
            """
            SELECT $__time(window_end), rows, rejected, injected_fraud
            FROM banking_batches
            WHERE $__timeFilter(window_end)
            ORDER BY window_end
            """
        ),
        "Rows, rejected rows and injected fraud of each loaded window, at the window's end.",
        source=AUDIT,
    ),
    _timeseries(
        17,
        "Load lag (finished_at - window_end)",
        (14, 39, 10, 7),
        _sql(
            """
            SELECT $__time(window_end), extract(epoch FROM finished_at - window_end) AS lag_seconds
            FROM banking_batches
            WHERE $__timeFilter(window_end)
            ORDER BY window_end
            """
        ),
        "Seconds between a window's end and the commit of its load: the data's freshness.",
        source=AUDIT,
        unit="s",
    ),
    # Row 7: the latest rule backtest (banking_backtest DAG), live rules vs the candidate.
    _table(
        18,
        "Backtest: live vs candidate (latest)",
        (0, 46, 24, 9),
        _sql(
            """
            SELECT l.rule_id,
                   l.hits AS live_hits, c.hits AS candidate_hits,
                   l.rejected AS live_rejected, c.rejected AS candidate_rejected,
                   l.true_positives AS live_true_positives, c.true_positives AS candidate_true_positives,
                   l.fraud_total,
                   l."precision" AS live_precision, c."precision" AS candidate_precision,
                   l.recall AS live_recall, c.recall AS candidate_recall
            FROM banking_backtest_metrics l
            JOIN banking_backtest_metrics c
              ON c.backtest_id = l.backtest_id AND c.variant = 'candidate' AND c.rule_id = l.rule_id
            WHERE l.variant = 'live' AND l.backtest_id = (
                SELECT backtest_id FROM banking_backtest_runs
                WHERE status = 'succeeded' ORDER BY finished_at DESC LIMIT 1
            )
            ORDER BY l.rule_id <> '*', l.rule_id
            """
        ),
        "Per rule ('*' = the Rejected decision) for the most recent successful backtest: hits, "
        "rejections, injected fraud caught, precision and recall of the live rules and the candidate. "
        "Not filtered by the time range: a backtest has its own range.",
        source=BACKTEST,
        overrides=[
            _by_name(f"{variant}_{ratio}", **_RATIO_FIELD)
            for ratio in ("precision", "recall")
            for variant in ("live", "candidate")
        ],
    ),
)

# "Pipeline stalled" reads this age when banking_batches is empty (no window ever loaded): above any
# sensible threshold (about 32 years), so the rule fires instead of reading 0 or no data.
NEVER_LOADED_SECONDS = 1_000_000_000
ALERT_GROUP = "banking-fraud"
ALERT_INTERVAL = "1m"
ALERT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        uid="banking-rejection-rate",
        title="Rejection rate spike",
        sql=_sql(
            """
            SELECT coalesce(
                       sum(txns) FILTER (WHERE decision = 'Rejected')::float8 / nullif(sum(txns), 0), 0
                   ) AS rejection_rate
            FROM banking_minute_stats
            WHERE $__timeFilter(minute)
            """
        ),
        threshold=0.1,
        env_var="BANKING_ALERT_REJECTION_RATE",
        lookback_seconds=300,
        pending="2m",
        summary="Rejection rate {{ humanizePercentage $values.B.Value }} over the last 5 minutes",
        description="More transactions than usual are rejected (about 2% at the default fraud rate). "
        "See the rules panels of the Real-Time Banking Transaction Monitoring dashboard.",
    ),
    AlertRule(
        uid="banking-injected-fraud",
        title="Injected fraud spike",
        sql=_sql(
            """
            SELECT coalesce(
                       sum(txns) FILTER (WHERE injected_fraud)::float8 / nullif(sum(txns), 0), 0
                   ) AS injected_fraud_rate
            FROM banking_minute_stats
            WHERE $__timeFilter(minute)
            """
        ),
        threshold=0.1,
        env_var="BANKING_ALERT_INJECTED_FRAUD_RATE",
        lookback_seconds=300,
        pending="2m",
        summary="Injected fraud is {{ humanizePercentage $values.B.Value }} of the last 5 minutes",
        description="The generator injects more fraud than the threshold (BANKING_FRAUD_RATE or a "
        "trigger's fraud_rate); check that the rules keep up in the precision/recall panel.",
    ),
    AlertRule(
        uid="banking-pipeline-stalled",
        title="Pipeline stalled",
        sql=_sql(
            """
            SELECT coalesce(extract(epoch FROM now() - max(finished_at)), {never}) AS seconds_since_last_load
            FROM banking_batches
            """
        ).format(never=NEVER_LOADED_SECONDS),
        threshold=300,
        env_var="BANKING_ALERT_MAX_LOAD_AGE_SECONDS",
        lookback_seconds=600,
        pending="1m",
        summary=(
            f"{{{{ if ge $values.B.Value {NEVER_LOADED_SECONDS}.0 }}}}No window has been loaded yet"
            "{{ else }}No window loaded for {{ humanizeDuration $values.B.Value }}{{ end }}"
        ),
        description="banking_transactions loads a window every minute; check its runs in Airflow. "
        "Fires too when no window has ever been loaded.",
    ),
)


# --- assembling the files -----------------------------------------------------------------------


def dashboard() -> dict[str, Any]:
    """The dashboard JSON model that Grafana's file provider loads."""
    return {
        "uid": DASHBOARD_UID,
        "title": DASHBOARD_TITLE,
        "description": "Generated by grafana/build_dashboard.py; edit that file, not this one.",
        "tags": ["banking", "fraud", "airflow"],
        "timezone": "utc",
        # Dashboards as code: the provider refuses saves from the UI (allowUiUpdates: false), so the
        # dashboard offers no edit mode whose changes would be lost.
        "editable": False,
        "graphTooltip": 1,
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "refresh": "1m",
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {"refresh_intervals": ["30s", "1m", "5m", "15m", "1h"]},
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [],
        "templating": {"list": []},
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "panels": [panel.as_json() for panel in PANELS],
    }


def _threshold_marker(rule: AlertRule) -> str:
    return f"__threshold_of_{rule.uid}__"


def _alert_rule(rule: AlertRule) -> dict[str, Any]:
    expr = {"type": "__expr__", "uid": "__expr__"}
    return {
        "uid": rule.uid,
        "title": rule.title,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": rule.lookback_seconds, "to": 0},
                "datasourceUid": DATASOURCE_UID,
                "model": {
                    "refId": "A",
                    "datasource": dict(DATASOURCE),
                    "editorMode": "code",
                    "format": "table",
                    "rawQuery": True,
                    "rawSql": rule.sql,
                    "intervalMs": 60000,
                    "maxDataPoints": 43200,
                },
            },
            {
                "refId": "B",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "B",
                    "datasource": dict(expr),
                    "type": "reduce",
                    "expression": "A",
                    "reducer": "last",
                },
            },
            {
                "refId": "C",
                "datasourceUid": "__expr__",
                "model": {
                    "refId": "C",
                    "datasource": dict(expr),
                    "type": "threshold",
                    "expression": "B",
                    "conditions": [{"evaluator": {"type": "gt", "params": [_threshold_marker(rule)]}}],
                },
            },
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": rule.pending,
        "annotations": {"summary": rule.summary, "description": rule.description},
        "labels": {"service": "banking", "severity": "warning"},
        "isPaused": False,
    }


def alerting() -> dict[str, Any]:
    """The alert rule file (Grafana's file-provisioning format), with the default thresholds."""
    return {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": ALERT_GROUP,
                "folder": FOLDER,
                "interval": ALERT_INTERVAL,
                "rules": [_alert_rule(rule) for rule in ALERT_RULES],
            }
        ],
    }


class _Dumper(yaml.SafeDumper):
    """YAML with multi-line strings as literal blocks, so the SQL reads as SQL."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_dashboard() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def render_alerting() -> str:
    body = yaml.dump(alerting(), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)
    for rule in ALERT_RULES:
        marker = _threshold_marker(rule)
        if body.count(f"- {marker}\n") != 1:
            raise RuntimeError(f"threshold of alert rule {rule.uid} not found once in the YAML")
        body = body.replace(f"- {marker}\n", f"- {rule.threshold:g}  # env {rule.env_var}\n")
    header = (
        "# Grafana alert rules of the banking pipeline. Generated by grafana/build_dashboard.py:\n"
        "# edit that file and run `python grafana/build_dashboard.py`, not this one.\n"
        "# A threshold marked `# env NAME` is replaced by $NAME when the compose stack starts\n"
        "# Grafana (docker/grafana/render-alerts.sh); the number here is the default.\n"
    )
    return header + body


def outputs() -> dict[Path, str]:
    """Every generated file and its content."""
    return {DASHBOARD_FILE: render_dashboard(), ALERTING_FILE: render_alerting()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that differ; exit 1 if any")
    args = parser.parse_args(argv)
    stale = []
    for path, content in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == content:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    for path in stale:
        shown = path.relative_to(GRAFANA_DIR.parent) if path.is_relative_to(GRAFANA_DIR.parent) else path
        print(f"{shown}: {'differs from the builder' if args.check else 'rewritten'}")
    if args.check and stale:
        print("run `python grafana/build_dashboard.py` and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
