"""Memory and CPU of a running ``make run``: PSS and CPU time summed over its whole process tree.

    .venv/bin/python scripts/measure_run.py --minutes 10 [--pid PID]

Without ``--pid`` it starts ``make run`` itself (in a process group of its own, stopped with SIGINT at
the end, like a terminal's Ctrl-C), waits until the UI answers, then samples every 5 s. The embedded
PostgreSQL (started by pg_ctl outside the tree) is counted too. Prints ``name: value`` lines: the
peak and mean PSS in MB, the CPU in % of one core over the whole period and between windows.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.run import ui_answers  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from the state on (the name may hold spaces)


def descendants(root: int) -> set[int]:
    """``root`` and every process below it, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    return found


def postgres_pids(data_dir: Path) -> set[int]:
    """The embedded PostgreSQL's processes: its postmaster (postmaster.pid) and the postmaster's children."""
    try:
        return descendants(int((data_dir / "postmaster.pid").read_text().split()[0]))
    except (OSError, ValueError, IndexError):
        return set()


def alive(pids: set[int]) -> set[int]:
    """The pids still running (zombies count as gone)."""
    return {pid for pid in pids if (fields := _stat(pid)) is not None and fields[0] != "Z"}


def pss_kb(pids: set[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def cpu_seconds(pids: set[int]) -> float:
    """CPU time of ``pids`` and of the children they reaped (task processes that came and went)."""
    total = 0
    for pid in pids:
        if (fields := _stat(pid)) is not None:
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICKS


def measure(tree_root: int, data_dir: Path, seconds: float, interval: float = 5) -> dict[str, float]:
    """Sample the tree every ``interval`` seconds; CPU from the change of the tree's CPU time."""
    samples: list[tuple[float, float, float]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pids = descendants(tree_root) | postgres_pids(data_dir)
        samples.append((time.monotonic(), pss_kb(pids) / 1024, cpu_seconds(pids)))
        time.sleep(interval)
    rates = [
        100 * max(0.0, c1 - c0) / (t1 - t0)
        for (t0, _, c0), (t1, _, c1) in zip(samples, samples[1:], strict=False)
    ]
    quiet = sorted(rates)[: max(1, len(rates) // 2)]  # the lower half: between windows
    mems = [m for _, m, _ in samples]
    return {
        "pss_mb_peak": max(mems),
        "pss_mb_mean": sum(mems) / len(mems),
        "cpu_percent_mean": sum(rates) / max(1, len(rates)),
        "cpu_percent_between_windows": sum(quiet) / len(quiet),
        "samples": float(len(samples)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--pid", type=int, help="measure this running make run (default: start one)")
    parser.add_argument("--port", default=os.environ.get("AIRFLOW__API__PORT", "8080"))
    args = parser.parse_args(argv)
    data_dir = Path(os.environ.get("BANKING_DATA_DIR") or ROOT / ".data") / "postgres"
    process = None
    root = args.pid
    if root is None:
        started = time.monotonic()
        process = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, start_new_session=True)
        root = process.pid
        while not ui_answers(args.port):
            if process.poll() is not None:
                return 1
            time.sleep(0.5)
        print(f"ui_answers_after_seconds: {time.monotonic() - started:.1f}", flush=True)
    try:
        for name, value in measure(root, data_dir, args.minutes * 60).items():
            print(f"{name}: {value:.1f}", flush=True)
    finally:
        if process is not None:
            os.killpg(process.pid, signal.SIGINT)
            process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
