"""``make soak``: many consecutive one-minute windows through the DAG's own task code, then an audit.

Each window runs ``banking.tasks.generate`` -> ``score`` -> ``load``, the functions the three tasks of
``banking_transactions`` call, with the connection ``banking_db`` (``AIRFLOW_CONN_BANKING_DB``). When
that variable is unset, an embedded PostgreSQL is started in a temporary folder and removed afterwards.
``banking_schema``'s task (migrations, population, partitions) runs first.

Afterwards the audit checks, over the soak's time range: no window failed, no ``uniq_id`` appears
twice, every window has exactly one ``banking_batches`` row and no other window is there, every audit
row reconciles with a ``GROUP BY`` of ``banking_data`` (rows, approved, review, rejected, injected fraud,
amount) and with the per-minute rollups, and nothing is left in ``banking_staging``. It prints
``name: value`` lines and exits with 1 when anything is wrong.

    python scripts/soak.py --windows 500 --start 2026-01-05T09:00:00+00:00
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (str(ROOT), str(ROOT / "plugins")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import psycopg  # noqa: E402

from banking.model import parse_datetime  # noqa: E402

CONN_ENV = "AIRFLOW_CONN_BANKING_DB"
DEFAULT_WINDOWS = 500
# A fixed, daytime start: the same windows (and rows) on every soak, away from the live stream.
DEFAULT_START = "2026-01-05T09:00:00+00:00"
MINUTE = timedelta(minutes=1)

# Per window: the audit row next to the GROUP BY of its rows; a row of either side may be missing.
_RECONCILE = """
WITH d AS (
    SELECT window_start, window_end, count(*) AS rows,
           count(*) FILTER (WHERE decision = 'Approved') AS approved,
           count(*) FILTER (WHERE decision = 'Review') AS review,
           count(*) FILTER (WHERE decision = 'Rejected') AS rejected,
           count(fraud_scenario) AS injected_fraud, sum(amount) AS amount
    FROM banking_data
    WHERE "timestamp" >= %(since)s AND "timestamp" < %(until)s
    GROUP BY window_start, window_end
), b AS (
    SELECT window_start, window_end, rows, approved, review, rejected, injected_fraud, amount
    FROM banking_batches
    WHERE window_start >= %(since)s AND window_end <= %(until)s
)
SELECT window_start, window_end,
       (b.rows, b.approved, b.review, b.rejected, b.injected_fraud, b.amount)::text AS audit,
       (d.rows, d.approved, d.review, d.rejected, d.injected_fraud, d.amount)::text AS data
FROM b FULL JOIN d USING (window_start, window_end)
WHERE b.rows IS NULL
   OR (b.rows, b.approved, b.review, b.rejected, b.injected_fraud, b.amount) IS DISTINCT FROM
      (coalesce(d.rows, 0), coalesce(d.approved, 0), coalesce(d.review, 0), coalesce(d.rejected, 0),
       coalesce(d.injected_fraud, 0), coalesce(d.amount, 0))
ORDER BY 1, 2
"""
_ROLLUPS = """
SELECT count(*)
FROM (SELECT window_start, window_end, rows, amount FROM banking_batches
      WHERE window_start >= %(since)s AND window_end <= %(until)s) b
FULL JOIN (SELECT window_start, window_end, sum(txns) AS rows, sum(amount) AS amount
           FROM banking_minute_stats
           WHERE window_start >= %(since)s AND window_end <= %(until)s
           GROUP BY window_start, window_end) r USING (window_start, window_end)
WHERE (coalesce(b.rows, -1), coalesce(b.amount, -1)) IS DISTINCT FROM (coalesce(r.rows, 0), coalesce(r.amount, 0))
"""


@dataclass
class Audit:
    """What the database holds for a time range, against the windows that should be there."""

    rows: int = 0
    duplicates: int = 0  # uniq_ids that appear more than once
    missing_windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    extra_windows: list[tuple[datetime, datetime]] = field(default_factory=list)
    unreconciled: list[tuple[datetime, datetime, str, str]] = field(default_factory=list)
    rollup_mismatches: int = 0
    staged_left: int = 0

    @property
    def problems(self) -> list[str]:
        found = []
        if self.duplicates:
            found.append(f"{self.duplicates} duplicate uniq_id(s)")
        if self.missing_windows:
            found.append(
                f"{len(self.missing_windows)} window(s) without an audit row: {self.missing_windows[:3]}"
            )
        if self.extra_windows:
            found.append(f"{len(self.extra_windows)} unexpected window(s): {self.extra_windows[:3]}")
        if self.unreconciled:
            found.append(
                f"{len(self.unreconciled)} window(s) whose audit row != their rows: {self.unreconciled[:3]}"
            )
        if self.rollup_mismatches:
            found.append(f"{self.rollup_mismatches} window(s) whose rollups != their audit row")
        if self.staged_left:
            found.append(f"{self.staged_left} staged payload(s) left behind")
        return found


def audit(
    conn: psycopg.Connection, since: datetime, until: datetime, expected: Iterable[tuple[datetime, datetime]]
) -> Audit:
    """Check ``[since, until)``: each expected window once, nothing else, audit rows == their rows."""
    bounds = {"since": since, "until": until}
    result = Audit()
    result.rows, distinct = conn.execute(
        'SELECT count(*), count(DISTINCT uniq_id) FROM banking_data WHERE "timestamp" >= %(since)s '
        'AND "timestamp" < %(until)s',
        bounds,
    ).fetchone()
    result.duplicates = result.rows - distinct
    batches = conn.execute(
        "SELECT window_start, window_end FROM banking_batches WHERE window_start >= %(since)s "
        "AND window_end <= %(until)s",
        bounds,
    ).fetchall()
    found = {(s, e) for s, e in batches}
    wanted = set(expected)
    result.missing_windows = sorted(wanted - found)
    result.extra_windows = sorted(found - wanted)
    result.unreconciled = [tuple(r) for r in conn.execute(_RECONCILE, bounds).fetchall()]
    result.rollup_mismatches = conn.execute(_ROLLUPS, bounds).fetchone()[0]
    result.staged_left = conn.execute(
        "SELECT count(*) FROM banking_staging WHERE window_start >= %(since)s AND window_end <= %(until)s",
        bounds,
    ).fetchone()[0]
    return result


@dataclass
class SoakResult:
    windows: int
    rows_loaded: int
    failures: list[tuple[datetime, str]]
    seconds: float
    window_seconds: list[float]
    audit: Audit

    @property
    def ok(self) -> bool:
        return not self.failures and not self.audit.problems and self.rows_loaded == self.audit.rows

    def lines(self) -> list[str]:
        """The figures as ``name: value`` lines."""
        per = sorted(self.window_seconds) or [0.0]
        figures: list[tuple[str, Any]] = [
            ("windows", self.windows),
            ("rows", self.audit.rows),
            ("rows_loaded", self.rows_loaded),
            ("failures", len(self.failures)),
            ("duplicates", self.audit.duplicates),
            ("missing_windows", len(self.audit.missing_windows)),
            ("extra_windows", len(self.audit.extra_windows)),
            ("unreconciled_windows", len(self.audit.unreconciled)),
            ("rollup_mismatches", self.audit.rollup_mismatches),
            ("staged_left", self.audit.staged_left),
            ("seconds", f"{self.seconds:.1f}"),
            ("windows_per_s", f"{self.windows / self.seconds:.2f}" if self.seconds else "0"),
            ("rows_per_s", f"{self.rows_loaded / self.seconds:.0f}" if self.seconds else "0"),
            ("window_seconds_p50", f"{statistics.median(per):.3f}"),
            ("window_seconds_p95", f"{per[min(len(per) - 1, int(len(per) * 0.95))]:.3f}"),
            ("window_seconds_max", f"{per[-1]:.3f}"),
            ("ok", "yes" if self.ok else "no"),
        ]
        return [f"{name}: {value}" for name, value in figures]


def run_soak(
    windows: int,
    start: datetime,
    conn_id: str = "banking_db",
    progress: Callable[[str], None] | None = None,
) -> SoakResult:
    """Run ``windows`` consecutive one-minute windows from ``start`` through the task functions."""
    from banking import db, tasks

    if windows < 1:
        raise ValueError(f"windows must be at least 1, got {windows}")
    end = start + windows * MINUTE
    tasks.set_up_schema(start, days_ahead=(end - start).days + 1, conn_id=conn_id)
    params = dict.fromkeys(tasks.TRIGGER_PARAMS)  # the DAG passes every param, unset ones as None
    failures: list[tuple[datetime, str]] = []
    per_window: list[float] = []
    rows = 0
    started = time.perf_counter()
    for i in range(windows):
        w_start = start + i * MINUTE
        t0 = time.perf_counter()
        try:
            manifest = tasks.generate(params, w_start, w_start + MINUTE, None)
            tasks.score(manifest, conn_id)
            rows += tasks.load(manifest, f"soak__{w_start.isoformat()}", conn_id)["rows"]
        except Exception as exc:  # noqa: BLE001 - a soak counts failures and goes on
            failures.append((w_start, f"{type(exc).__name__}: {exc}"))
        per_window.append(time.perf_counter() - t0)
        if progress and (i + 1) % 100 == 0:
            progress(f"{i + 1}/{windows} windows, {rows} rows, {len(failures)} failures")
    seconds = time.perf_counter() - started
    expected = [(start + i * MINUTE, start + (i + 1) * MINUTE) for i in range(windows)]
    with db.hook_connection(conn_id) as conn:
        result = audit(conn, start, end, expected)
    return SoakResult(windows, rows, failures, seconds, per_window, result)


def _parse_start(value: str) -> datetime:
    start = parse_datetime(value)
    if start.tzinfo is None:
        raise argparse.ArgumentTypeError(f"--start needs a time zone, e.g. {DEFAULT_START}")
    if start.second or start.microsecond:
        raise argparse.ArgumentTypeError("--start must be on a whole minute")
    return start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=DEFAULT_WINDOWS, help="one-minute windows to run")
    parser.add_argument(
        "--start", type=_parse_start, default=_parse_start(DEFAULT_START), help="first window"
    )
    args = parser.parse_args(argv)
    if args.windows < 1:
        parser.error("--windows must be at least 1")

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("banking", "airflow", "pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    tmp = Path(tempfile.mkdtemp(prefix="banking-soak-"))
    os.chmod(tmp, 0o755)  # as root, pgserver runs the server as its own OS user
    os.environ.setdefault("AIRFLOW_HOME", str(tmp / "airflow"))  # before Airflow is first imported
    server = None
    try:
        if not os.environ.get(CONN_ENV):
            from scripts import embedded_postgres

            server, admin = embedded_postgres.start(tmp / "pgdata")
            embedded_postgres.ensure_database(admin, "banking")
            os.environ[CONN_ENV] = embedded_postgres.airflow_uri(admin, "banking")
            print("database: embedded PostgreSQL in a temporary folder", flush=True)
        else:
            print(f"database: {CONN_ENV}", flush=True)
        result = run_soak(args.windows, args.start, progress=lambda m: print(m, flush=True))
    finally:
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    for line in result.lines():
        print(line)
    for window, error in result.failures[:10]:
        print(f"failure: {window.isoformat()}: {error}", file=sys.stderr)
    for problem in result.audit.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
