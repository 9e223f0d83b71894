"""A finished backtest: its figures, the XCom summary and the metrics table for the task log."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from banking.backtest.scoreboard import CANDIDATE, LIVE, OVERALL, VARIANTS, Metric
from banking.model import Window

log = logging.getLogger(__name__)


@dataclass
class BacktestReport:
    backtest_id: str
    range: Window
    candidate_version: str
    live_versions: list[str]
    windows: int
    skipped_windows: int
    rows: int
    changed: int
    seconds: float
    metrics: list[Metric]

    def metric(self, variant: str, rule_id: str = OVERALL) -> Metric:
        return next(m for m in self.metrics if m.variant == variant and m.rule_id == rule_id)

    def as_xcom(self) -> dict[str, Any]:
        """A small summary for XCom: the overall figures of both variants."""

        def brief(m: Metric) -> dict[str, Any]:
            return {
                "rejected": m.rejected,
                "rejected_amount": str(m.rejected_amount),
                "true_positives": m.true_positives,
                "precision": m.precision,
                "recall": m.recall,
            }

        return {
            "backtest_id": self.backtest_id,
            "range": [self.range.start.isoformat(), self.range.end.isoformat()],
            "candidate_version": self.candidate_version,
            "live_versions": self.live_versions,
            "windows": self.windows,
            "rows": self.rows,
            "changed": self.changed,
            "fraud_total": self.metric(LIVE).fraud_total,
            LIVE: brief(self.metric(LIVE)),
            CANDIDATE: brief(self.metric(CANDIDATE)),
        }


def metrics_table(metrics: Iterable[Metric]) -> str:
    """Live next to candidate, one line per rule, for the task log."""

    def ratio(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    by_key = {(m.variant, m.rule_id): m for m in metrics}
    rule_ids = list(dict.fromkeys(rule_id for _, rule_id in by_key))
    head = f"{'hits':>7} {'rejected':>8} {'rejected USD':>14} {'TP':>5} {'prec':>6} {'recall':>6}"
    lines = [f"{'rule':<24} | live: {head} | candidate: {head}"]
    for rule_id in rule_ids:
        cells = []
        for variant in VARIANTS:
            m = by_key[(variant, rule_id)]
            cells.append(
                f"{m.hits:>7} {m.rejected:>8} {m.rejected_amount:>14,.2f} {m.true_positives:>5} "
                f"{ratio(m.precision):>6} {ratio(m.recall):>6}"
            )
        lines.append(f"{rule_id:<24} |       {cells[0]} |            {cells[1]}")
    return "\n".join(lines)


def log_report(report: BacktestReport) -> BacktestReport:
    """Log the report's figures and metrics table; returns it."""
    live, candidate = report.metric(LIVE), report.metric(CANDIDATE)
    log.info(
        "backtest %s done in %.2fs: %d windows, %d rows, %d decisions changed; live rule set(s) %s, "
        "candidate %s; injected fraud %d; rejected live %d, candidate %d\n%s",
        report.backtest_id,
        report.seconds,
        report.windows,
        report.rows,
        report.changed,
        ", ".join(report.live_versions),
        report.candidate_version,
        live.fraud_total,
        live.rejected,
        candidate.rejected,
        metrics_table(report.metrics),
    )
    return report
