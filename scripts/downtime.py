"""``make downtime``: stop Airflow's scheduler for a while, start it again, check nothing was lost.

Starts the Celery stack of the end-to-end tests (``scripts/e2e_stack.py``) with the scheduler creating
the scheduled runs, runs ``banking_schema`` (no warm start), unpauses ``banking_transactions`` and
waits for a few scheduled minutes to load. Then it stops the scheduler (SIGTERM to its process group)
for ``--down`` seconds (300 by default), starts it again, and waits until the first scheduled run
after the restart has caught up. It checks that every minute from the first loaded one to the last is
in ``banking_batches`` exactly once (``loads = 1``), in order of loading, and that the audit reconciles
with ``banking_data``. It prints ``name: value`` lines and exits with 1 when anything is wrong.

    python scripts/downtime.py --down 300
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.e2e_stack import Stack, say, stop_group  # noqa: E402

MINUTE = timedelta(minutes=1)
SMALL_POPULATION = {
    "BANKING_SEED": "7",
    "BANKING_N_ACCOUNTS": "300",
    "BANKING_N_MERCHANTS": "120",
    "BANKING_WARM_START_DAYS": "0",
}
_AUDIT = """
SELECT window_start, loads, finished_at, run_id FROM banking_batches ORDER BY window_start
"""


def loaded_minutes(stack: Stack) -> list[tuple[datetime, int, datetime, str]]:
    with stack.banking() as conn:
        return [tuple(r) for r in conn.execute(_AUDIT).fetchall()]


def wait_for(what: str, timeout: float, ready: Any, stack: Stack) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        for component in stack.components:
            component.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(2)


def downtime(stack: Stack, down_seconds: float, before: int = 2) -> dict[str, Any]:
    """Stop the stack's scheduler for ``down_seconds`` between scheduled loads; the figures."""
    stack.api.unpause("banking_transactions")
    wait_for(f"{before} scheduled minutes", 300, lambda: len(loaded_minutes(stack)) >= before, stack)
    scheduler = next(c for c in stack.components if c.name == "scheduler")
    os.killpg(scheduler.process.pid, signal.SIGTERM)
    stop_group(scheduler.process, scheduler.name)
    stopped_after = loaded_minutes(stack)[-1][0] + MINUTE
    say(f"scheduler stopped; last loaded minute ends {stopped_after.isoformat()}; down {down_seconds:.0f}s")
    time.sleep(down_seconds)
    scheduler.start()
    restarted = datetime.now().astimezone()
    say(f"scheduler started again at {restarted.isoformat()}")
    wait_for(
        "the catch-up after the restart",
        300,
        lambda: loaded_minutes(stack)[-1][0] >= restarted.replace(second=0, microsecond=0) - MINUTE,
        stack,
    )
    audit = loaded_minutes(stack)
    starts = [r[0] for r in audit]
    first, last = starts[0], starts[-1]
    expected = [first + i * MINUTE for i in range(int((last - first) / MINUTE) + 1)]
    by_commit = [r[0] for r in sorted(audit, key=lambda r: (r[2], r[0]))]
    catch_up = [r for r in audit if r[0] >= stopped_after]
    catch_up_runs = sorted({r[3] for r in catch_up if r[0] < restarted - MINUTE})
    with stack.banking() as conn:
        rows, total = conn.execute(
            "SELECT (SELECT count(*) FROM banking_data), (SELECT coalesce(sum(rows), 0) FROM banking_batches)"
        ).fetchone()
    return {
        "down_seconds": round(down_seconds),
        "minutes_loaded": len(audit),
        "first_minute": first.isoformat(),
        "last_minute": last.isoformat(),
        "missing_minutes": len(set(expected) - set(starts)),
        "minutes_loaded_twice": sum(1 for r in audit if r[1] != 1),
        "missed_minutes_caught_up": sum(1 for r in catch_up if r[0] < restarted.replace(second=0) - MINUTE),
        "catch_up_runs": ", ".join(catch_up_runs),
        "loaded_in_order": "yes" if by_commit == starts else "no",
        "rows": rows,
        "audit_rows": total,
    }


def problems(figures: dict[str, Any]) -> list[str]:
    found = []
    if figures["missing_minutes"]:
        found.append(f"{figures['missing_minutes']} minute(s) never loaded")
    if figures["minutes_loaded_twice"]:
        found.append(f"{figures['minutes_loaded_twice']} minute(s) loaded more than once")
    if figures["loaded_in_order"] != "yes":
        found.append("minutes were not loaded in order")
    if figures["rows"] != figures["audit_rows"]:
        found.append(f"banking_data holds {figures['rows']} rows, the audit {figures['audit_rows']}")
    if figures["missed_minutes_caught_up"] < figures["down_seconds"] // 60 - 1:
        found.append("the downtime's minutes were not caught up")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--down", type=float, default=300, help="seconds the scheduler is stopped (300)")
    parser.add_argument("--dsn", help="admin DSN of the PostgreSQL server to use, or 'embedded'")
    args = parser.parse_args(argv)
    with Stack(workers=1, concurrency=2, schedule=True, banking_env=SMALL_POPULATION, dsn=args.dsn) as stack:
        stack.run_dag("banking_schema", timeout=240)
        figures = downtime(stack, args.down)
    for name, value in figures.items():
        print(f"{name}: {value}")
    found = problems(figures)
    print(f"ok: {'no' if found else 'yes'}")
    for problem in found:
        print(f"problem: {problem}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
