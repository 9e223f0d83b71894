"""``make bench`` on a tiny size, so that the benchmark code cannot rot."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import psycopg
from psycopg.conninfo import make_conninfo

from tests.dags.conftest import ROOT
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
    r"copy_vs_seed\[500\]",
    r"copy_binary_vs_seed\[500\]",
    r"peak_rss_mb\[500\]",
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
            assert float(figures[matches[0]]) > 0
        # Ratios are consistent with the rates they come from.
        pipeline_rate = float(figures["pipeline_rows_per_s[500]"])
        copy_rate = float(figures["copy_rows_per_s[500]"])
        seed_rate = float(figures["seed_style_rows_per_s[500]"])
        for name, expected in (
            ("pipeline_vs_copy[500]", pipeline_rate / copy_rate),
            ("pipeline_vs_seed[500]", pipeline_rate / seed_rate),
            ("copy_vs_seed[500]", copy_rate / seed_rate),
        ):
            assert abs(float(figures[name]) - expected) < 0.01 * expected + 1e-3, name
    finally:
        with psycopg.connect(make_conninfo(**pg.admin), autocommit=True) as conn:
            conn.execute('DROP DATABASE IF EXISTS "bench_test_quick" WITH (FORCE)')
