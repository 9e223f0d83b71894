"""The benchmark's ``steady`` section on a tiny case, so that it cannot rot and its ratios say what they claim."""

from __future__ import annotations

import math
import subprocess
import sys

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from tests.dags.conftest import ROOT
from tests.pg import TestServer

PREFIX = "bench_steady_test"
STAGES = ("generate", "score", "load", "total")


def run_section(pg: TestServer, analyze: bool) -> dict[str, float]:
    args = ["--rate", "60", "--histories", "0,1h", "--populations", "300", "--windows", "2", "--warmup", "1"]
    args += ["--analyze"] if analyze else []
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_steady.py"), "--admin", make_conninfo(**pg.admin)]
        + ["--db", PREFIX, *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line]
    return {name: float(value) for name, value in lines}


@pytest.mark.parametrize("analyze", [False, True], ids=["right_after_load", "analyze"])
def test_steady_quick_prints_every_figure_and_true_ratios(pg: TestServer, analyze: bool) -> None:
    figures = run_section(pg, analyze)
    expected = {f"steady_window_s[300,{h},{s}]" for h in ("0", "1h") for s in STAGES}
    expected |= {"steady_window_rows[300,0]", "steady_window_rows[300,1h]", "steady_ratio_to_empty[300,1h]"}
    expected |= {"steady_empty_window_s[300,1h]"}
    expected |= {
        "steady_history_load_s[300,1h]",
        "steady_history_rows[300,1h]",
        "steady_state_mb_per_million[300]",
    }
    expected |= {"steady_analyze_s[300,1h]"} if analyze else set()
    assert set(figures) == expected, figures
    assert all(math.isfinite(v) and v > 0 for v in figures.values()), figures
    # One hour at about 60 a minute (the time-of-day curve makes noon busier than the mean).
    assert 60 * 60 * 0.5 < figures["steady_history_rows[300,1h]"] < 60 * 60 * 2, figures
    for history in ("0", "1h"):
        # With two windows each median is a mean, so the total's median is the stages' sum
        # (printed figures carry 4 significant digits, hence the tolerance).
        total = figures[f"steady_window_s[300,{history},total]"]
        stages = sum(figures[f"steady_window_s[300,{history},{s}]"] for s in STAGES[:3])
        assert math.isclose(total, stages, rel_tol=2e-3), (history, total, stages)
    # The ratio is to the empty look-back's windows interleaved with the 1h windows, in the same database.
    ratio = figures["steady_window_s[300,1h,total]"] / figures["steady_empty_window_s[300,1h]"]
    assert math.isclose(figures["steady_ratio_to_empty[300,1h]"], ratio, rel_tol=2e-3), figures
    with psycopg.connect(make_conninfo(**pg.admin), autocommit=True) as conn:
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"{PREFIX}%",)
        ).fetchall()
    assert left == [], f"the section left its databases behind: {left}"


def test_capacity_quick_sizes_the_population_to_each_rate(pg: TestServer) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_steady.py"), "--admin", make_conninfo(**pg.admin)]
        + ["--db", PREFIX, "--capacity", "30,60", "--histories", "10m", "--windows", "1", "--warmup", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = {k: float(v) for k, v in (line.split(": ", 1) for line in result.stdout.splitlines())}
    # 2.5 transactions per account a day: 30 a minute -> 17,280 accounts, 60 -> 34,560.
    for name in ("17280@30", "34560@60"):
        assert {f"steady_window_s[{name},10m,{s}]" for s in STAGES} <= set(figures), figures
        assert f"steady_window_s[{name},0,total]" not in figures  # no empty look-back in this mode
        assert f"steady_empty_window_s[{name},10m]" not in figures
        assert figures[f"steady_history_rows[{name},10m]"] > 0
    assert figures["steady_largest_rate_within_10s"] == 60, figures
