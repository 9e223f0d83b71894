"""``make bench`` on a tiny size, so that the benchmark code cannot rot."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys

import psycopg
from psycopg.conninfo import make_conninfo

from tests.helpers import ROOT
from tests.pg import TestServer

FIGURES = [
    r"pipeline_rows_per_s\[500\]",
    r"stage_rows_per_s\[500,generate\]",
    r"stage_rows_per_s\[500,score\]",
    r"stage_rows_per_s\[500,load\]",
    r"inprocess_rows_per_s\[500\]",
    r"copy_rows_per_s\[500\]",
    r"pipeline_vs_copy\[500\]",
    r"copy_binary_rows_per_s\[500\]",
    r"pipeline_vs_copy_binary\[500\]",
    r"seed_style_rows_per_s\[500\]",
    r"pipeline_vs_seed\[500\]",
    r"pipeline_vs_seed_rounds\[500\]",
    r"copy_vs_seed\[500\]",
    r"copy_binary_vs_seed\[500\]",
    r"peak_rss_mb\[500\]",
    r"copy_cost_s\[all\]",
    r"copy_cost_s\[no_account_index\]",
    r"copy_cost_s\[no_index\]",
    r"copy_cost_s\[narrow\]",
    r"copy_cost_vs_all\[no_index\]",
    r"dashboard_dataset_rows",
    r"dashboard_ms\[default,seed:7,p95\]",
    r"dashboard_worst_p95_ms\[30d\]",
    r"dag_parse_seconds\[banking_transactions.py\]",
]


def test_bench_quick_prints_every_figure(pg: TestServer) -> None:
    env = {**os.environ, "BANKING_BENCH_DSN": make_conninfo(**pg.admin)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--db", "bench_test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        figures = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
        for pattern in FIGURES:
            matches = [name for name in figures if re.fullmatch(pattern, name)]
            assert matches, f"{pattern} missing from:\n{result.stdout}"
            assert all(float(value) > 0 for value in figures[matches[0]].split())
        # Each ratio is the median of its rounds' own (three in --quick). The ratio of the rates'
        # medians lies within the rounds' range too: a_i >= r * b_i for every round gives
        # median(a) >= r * median(b) (printed figures carry 4 digits, hence the tolerance).
        rates = {
            name: float(figures[f"{name}_rows_per_s[500]"]) for name in ("pipeline", "copy", "seed_style")
        }
        for name, numerator, denominator in (
            ("pipeline_vs_copy", "pipeline", "copy"),
            ("pipeline_vs_seed", "pipeline", "seed_style"),
            ("copy_vs_seed", "copy", "seed_style"),
        ):
            rounds = [float(v) for v in figures[f"{name}_rounds[500]"].split()]
            assert len(rounds) == 3, name
            assert abs(float(figures[f"{name}[500]"]) - statistics.median(rounds)) < 1e-3 * max(rounds), name
            of_medians = rates[numerator] / rates[denominator]
            assert min(rounds) * 0.998 <= of_medians <= max(rounds) * 1.002, name
    finally:
        with psycopg.connect(make_conninfo(**pg.admin), autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "bench_test_quick" WITH (FORCE)')
