"""``scripts/bench_scoring.py`` on a tiny batch, so that the scoring benchmark cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_scoring.py"


def test_bench_scoring_prints_its_figures_and_agrees() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--rows", "2000", "--accounts", "200", "--history-days", "0.2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    assert figures["scoring_rows"] == "2000" and figures["identical_results"] == "yes"
    for name in (
        "score_columns_ms",
        "score_batch_objects_ms",
        "reference_per_row_ms",
        "speedup_score_columns",
    ):
        assert float(figures[name]) > 0, name
    assert sum(int(v) for k, v in figures.items() if k.startswith("hits[")) > 0
