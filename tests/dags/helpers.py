"""What the DAG tests expect of every DAG: the tables each task writes, as Asset names."""

from __future__ import annotations

ROLLUPS = [f"banking_{p}_{k}" for p in ("day", "hour") for k in ("blacklisted", "rule_hits", "stats")]
LOADED = sorted(
    ["banking_batches", "banking_data", *ROLLUPS, "banking_minute_rule_hits", "banking_minute_stats"]
)
OUTLETS = {
    "banking_transactions": {"generate": [], "score": ["banking_staging"], "load": LOADED},
    "banking_schema": {
        "set_up": sorted(
            ["accounts", "banking_population", "banking_schema_migrations", "blacklist", "cards", "merchants"]
        ),
        "warm_start": LOADED,
    },
    "banking_retention": {"drop_old_data": sorted([*LOADED, "banking_staging"]), "seal_closed_days": []},
    "banking_backtest": {
        "run_backtest": ["banking_backtest_metrics", "banking_backtest_results", "banking_backtest_runs"]
    },
}
