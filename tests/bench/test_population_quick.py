"""The benchmark's ``population`` section on a tiny size, so that it cannot rot and its figures are real."""

from __future__ import annotations

import math
import subprocess
import sys

from psycopg.conninfo import make_conninfo

from tests.dags.conftest import ROOT
from tests.pg import TestServer

FIGURES = (
    "build_s",
    "tables_s",
    "peak_rss_mb",
    "cards",
    "cache_mb",
    "cache_read_s",
    "vs_faker_per_account",
    "seed_s",
)


def test_population_quick_prints_every_figure(pg: TestServer) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_population.py"), "--sizes", "2000,4000"]
        + ["--admin", make_conninfo(**pg.admin), "--db", "bench_population_test"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert set(figures) == {f"population_{name}[{n}]" for name in FIGURES for n in (2000, 4000)}, figures
    values = {name: float(value) for name, value in figures.items()}
    assert all(math.isfinite(v) and v > 0 for v in values.values()), values
    # One or two cards per account, seven in ten with one.
    for n in (2000, 4000):
        assert 1.2 * n < values[f"population_cards[{n}]"] < 1.4 * n, values
