"""The ``steady`` section of the benchmark: what a live one-minute window costs after history is loaded.

For each population size, on a fresh database of its own: the histories in increasing length,
loaded cumulatively with ``pipeline.warm_start`` (the 1-day history extends the 1-hour one, and so
on, so that the longest is loaded once), each followed by ``--warmup`` unmeasured one-minute
windows (live running's first minutes after a bulk load read cold pages; the figures are the warm
steady state) and then ``--windows`` measured ones, each measured window followed by a window with
an empty look-back (a day of its own) in a database of its own on the same server, so that both
sides of the ratio run against the same server and cache at the same time (in the measured
database, a window far from the live ones would move their tiles' block away). History ``k`` ends at
``T_k = BASE + history_k``: its look-back ``[BASE, T_k)`` holds the earlier histories and their
windows (all at the same rate), and nothing is ever loaded after a measured window, as in live
running. Figures, as ``name: value`` lines:

- ``steady_window_s[<population>,<history>,<stage>]``: medians over the windows of each stage's
  seconds (generate, score, load) and of their ``total``; history ``0``: the empty look-back's
  windows before any history is loaded;
- ``steady_empty_window_s[<population>,<history>]``: the median ``total`` of the empty look-back's
  windows interleaved with that history's, and ``steady_ratio_to_empty[<population>,<history>]`` the
  history's median ``total`` over it;
- ``steady_history_load_s[<population>,<history>]``: the seconds ``warm_start`` took to extend the
  loaded history to this length (only the part not loaded before), ``steady_history_rows`` the
  rows in ``banking_data`` once it is loaded;
- ``steady_analyze_s[<population>,<history>]`` (with ``--analyze``): a VACUUM ANALYZE of the tables a
  window reads after the history load (the warm start already does one at its end);
- ``steady_state_mb_per_million[<population>]``: the state's size on disk (the partitions of
  ``banking_account_hours``, ``banking_account_days`` and ``banking_account_block``, with indexes) per
  million rows in ``banking_data``, after the longest history.

With ``--capacity RATES``, instead: for each rate, a population sized for it (about 2.5 transactions
per account a day, ``docs/population.md``, at most the largest population) and ``--windows`` windows
after the warm-up and the one history ``--histories`` names, keyed ``<population>@<rate>``, without
the empty look-back; then ``steady_largest_rate_within_10s``, the largest of those rates whose median
window took at most 10 s in all (generate, score and load, in one process).

Run alone: ``python scripts/bench_steady.py --rate 1000 --histories 0,1h,1d,7d --populations
default,5000 --windows 5``, or ``--capacity 10000,30000,100000 --histories 1h --windows 3`` (the
admin conninfo from ``--admin`` or ``BANKING_BENCH_DSN``).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "plugins"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import psycopg  # noqa: E402
from psycopg import sql as psql  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from banking import pipeline  # noqa: E402
from banking.model import Window  # noqa: E402
from banking.rules import config  # noqa: E402
from banking.rules.rule_set import RuleSet  # noqa: E402
from banking.store import partitions, schema  # noqa: E402
from banking.stream.settings import GeneratorSettings  # noqa: E402
from scripts import embedded_postgres  # noqa: E402
from scripts.bench_sql import sql  # noqa: E402

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1/postgres"
# Every history starts here. The generator's rate follows a time-of-day curve: from noon, the
# windows after 1 hour of history (13:00, intensity 1.35) and after whole days and the empty
# look-back (12:00, 1.4) see about as many rows, 1.4 times the mean rate (``steady_window_rows``).
BASE = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
EMPTY_GAP = timedelta(days=60)  # the empty look-backs' windows start this long after BASE
WARMUP = 10  # unmeasured windows after each history load
STAGES = ("generate", "score", "load")
CAPACITY_BUDGET_S = (
    10.0  # the seconds a one-minute window may take in all and keep real time with room to spare
)
MINUTE = timedelta(minutes=1)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def emit(name: str, value: float | int) -> tuple[str, float]:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    print(f"{name}: {text}", flush=True)
    return name, float(value)


def parse_duration(text: str) -> timedelta:
    """``0``, ``90s``, ``30m``, ``1h``, ``7d``."""
    if text.strip() == "0":
        return timedelta(0)
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (use 0, 30m, 1h, 7d ...)")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


def label(duration: timedelta) -> str:
    """The inverse of :func:`parse_duration`, in the largest whole unit."""
    seconds = int(duration.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s" if seconds else "0"


def parse_populations(text: str) -> list[int]:
    """``default,5000`` -> account counts, ``default`` being GeneratorSettings' own; duplicates once."""
    sizes = [GeneratorSettings().n_accounts if p.strip() == "default" else int(p) for p in text.split(",")]
    return list(dict.fromkeys(sizes))


def connect(admin: dict[str, str], dbname: str) -> psycopg.Connection:
    return psycopg.connect(make_conninfo(**{**admin, "dbname": dbname}), autocommit=True)


def recreate(admin: dict[str, str], dbname: str) -> None:
    drop(admin, dbname)
    embedded_postgres.ensure_database(admin, dbname)


def drop(admin: dict[str, str], dbname: str) -> None:
    with psycopg.connect(make_conninfo(**admin), autocommit=True) as conn:
        conn.execute(psql.SQL(sql("drop_database")).format(dbname=psql.Identifier(dbname)))


def measure_windows(
    conn: psycopg.Connection,
    settings: GeneratorSettings,
    rule_set: RuleSet,
    start: datetime,
    windows: int,
    empty: EmptyLookBacks | None = None,
) -> tuple[dict[str, float], dict[str, float] | None]:
    """Run ``windows`` one-minute windows from ``start``, each followed by one of ``empty``'s windows
    when given; the medians of each stage's and the total seconds of both."""
    runs, empties = [], []
    for i in range(windows):
        window = Window(start + i * MINUTE, start + (i + 1) * MINUTE)
        runs.append(pipeline.run_window(conn, settings, rule_set, window))
        if empty is not None:
            empties.append(empty.run(settings, rule_set))
    return medians(runs), medians(empties) if empty is not None else None


def medians(runs: list[pipeline.WindowReport]) -> dict[str, float]:
    found = {stage: statistics.median(r.seconds[stage] for r in runs) for stage in STAGES}
    found["total"] = statistics.median(sum(r.seconds[s] for s in STAGES) for r in runs)
    found["rows"] = statistics.median(r.summary.rows for r in runs)
    return found


def warm_up(
    conn: psycopg.Connection, settings: GeneratorSettings, rule_set: RuleSet, start: datetime, windows: int
) -> datetime:
    """Run ``windows`` unmeasured one-minute windows from ``start`` (what live running does after a bulk
    load: its first windows read cold pages); returns where the next window starts."""
    for i in range(windows):
        pipeline.run_window(conn, settings, rule_set, Window(start + i * MINUTE, start + (i + 1) * MINUTE))
    return start + windows * MINUTE


class EmptyLookBacks:
    """One-minute windows whose look-back holds no row, in a database of their own (``conn``, with the
    same population): each on a day of its own, a day more than the look-back apart, from
    ``EMPTY_GAP`` after ``BASE`` on, their partitions created up front as live running creates them
    days ahead."""

    def __init__(self, conn: psycopg.Connection, count: int, lookback: timedelta) -> None:
        self._conn = conn
        first, stride = BASE + EMPTY_GAP, lookback + timedelta(days=1)
        self._windows = [Window(first + i * stride, first + i * stride + MINUTE) for i in range(count)]
        for window in self._windows:
            partitions.ensure_partitions(conn, window)

    def run(self, settings: GeneratorSettings, rule_set: RuleSet) -> pipeline.WindowReport:
        """Generate, score and load the next window."""
        return pipeline.run_window(self._conn, settings, rule_set, self._windows.pop(0))


def one_population(
    admin: dict[str, str],
    dbname: str,
    rate: float,
    n_accounts: int,
    histories: list[timedelta],
    windows: int,
    warmup: int = WARMUP,
    analyze: bool = False,
    name: str | None = None,
) -> list[tuple[str, float]]:
    """The figures of one population size, on a fresh database ``dbname`` (dropped afterwards), keyed by
    ``name`` (the population size by default). With the empty history in ``histories``: first windows
    of an empty look-back, then each history's windows alternate with windows of an empty look-back,
    in a second fresh database ``<dbname>_empty``, for the ratio; without it, neither. Before
    each measurement, ``warmup`` unmeasured windows of the same kind."""
    settings = GeneratorSettings(rate_per_minute=rate, n_accounts=n_accounts)
    name = name or str(n_accounts)
    rule_set = config.load_rules()
    lengths = sorted({h for h in histories if h > timedelta(0)})
    for shorter, longer in zip(lengths, lengths[1:], strict=False):
        if longer - shorter < (warmup + windows) * MINUTE:
            raise ValueError(
                f"history {label(longer)} must exceed {label(shorter)} by the warm-up's and windows' minutes"
            )
    compare = timedelta(0) in histories
    if lengths and lengths[-1] + (warmup + windows) * MINUTE > EMPTY_GAP - rule_set.lookback:
        longest = label(EMPTY_GAP - rule_set.lookback)
        raise ValueError(f"history {label(lengths[-1])} reaches the empty look-backs' (at most {longest})")
    figures: list[tuple[str, float]] = []
    dbnames = (dbname, f"{dbname}_empty") if compare else (dbname,)
    for each in dbnames:
        recreate(admin, each)
        with connect(admin, each) as conn:
            schema.apply_migrations(conn)
            schema.seed_population(conn, settings)
    try:
        with connect(admin, dbname) as conn, connect(admin, dbnames[-1]) as other:
            count = (1 + len(lengths)) * windows + warmup
            empty = EmptyLookBacks(other, count, rule_set.lookback) if compare else None
            if empty is not None:
                for _ in range(warmup):
                    empty.run(settings, rule_set)
                runs = [empty.run(settings, rule_set) for _ in range(windows)]
                figures += window_figures(f"{name},0", medians(runs), None)
            for history in lengths:
                key, end = f"{name},{label(history)}", BASE + history
                started = time.perf_counter()
                pipeline.warm_start(
                    conn, settings, rule_set, end, history, step=min(history, timedelta(days=1))
                )
                figures.append(emit(f"steady_history_load_s[{key}]", time.perf_counter() - started))
                _, rows = conn.execute(sql("steady_state_size")).fetchone()
                figures.append(emit(f"steady_history_rows[{key}]", int(rows)))
                if analyze:
                    started = time.perf_counter()
                    conn.execute(sql("steady_settle"))
                    figures.append(emit(f"steady_analyze_s[{key}]", time.perf_counter() - started))
                start = warm_up(conn, settings, rule_set, end, warmup)
                found, empties = measure_windows(conn, settings, rule_set, start, windows, empty)
                figures += window_figures(key, found, empties)
            size, rows = conn.execute(sql("steady_state_size")).fetchone()
    finally:
        for each in dbnames:
            drop(admin, each)
    if rows:
        figures.append(emit(f"steady_state_mb_per_million[{name}]", size / 1e6 / (rows / 1e6)))
    return figures


def window_figures(
    key: str, found: dict[str, float], empty: dict[str, float] | None
) -> list[tuple[str, float]]:
    """Print the windows' medians; with the interleaved empty look-back's, its total and their ratio."""
    figures = [emit(f"steady_window_s[{key},{stage}]", found[stage]) for stage in (*STAGES, "total")]
    figures.append(emit(f"steady_window_rows[{key}]", found["rows"]))
    if empty is not None:
        figures.append(emit(f"steady_empty_window_s[{key}]", empty["total"]))
        figures.append(emit(f"steady_ratio_to_empty[{key}]", found["total"] / empty["total"]))
    return figures


def steady(
    admin: dict[str, str],
    dbname_prefix: str,
    rate: float,
    histories: list[timedelta],
    populations: list[int],
    windows: int,
    warmup: int = WARMUP,
    analyze: bool = False,
) -> list[tuple[str, float]]:
    """The section: every population's figures (printed as they come, and returned)."""
    figures: list[tuple[str, float]] = []
    for n_accounts in populations:
        figures += one_population(
            admin, f"{dbname_prefix}_{n_accounts}", rate, n_accounts, histories, windows, warmup, analyze
        )
    return figures


def capacity(
    admin: dict[str, str],
    dbname_prefix: str,
    rates: list[float],
    history: timedelta,
    windows: int,
    warmup: int = WARMUP,
) -> list[tuple[str, float]]:
    """Windows after ``history`` at each rate on a population sized for it, and the largest rate
    whose median window took at most ``CAPACITY_BUDGET_S`` seconds."""
    figures: list[tuple[str, float]] = []
    largest = 0.0
    for rate in sorted(rates):
        n_accounts = GeneratorSettings(rate_per_minute=rate).realistic_n_accounts
        name = f"{n_accounts}@{rate:g}"
        found = dict(
            one_population(
                admin,
                f"{dbname_prefix}_{int(rate)}",
                rate,
                n_accounts,
                [history],
                windows,
                warmup,
                name=name,
            )
        )
        if found[f"steady_window_s[{name},{label(history)},total]"] <= CAPACITY_BUDGET_S:
            largest = max(largest, rate)
        figures += found.items()
    figures.append(emit("steady_largest_rate_within_10s", int(largest)))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--admin", default=os.environ.get("BANKING_BENCH_DSN", DEFAULT_ADMIN))
    parser.add_argument(
        "--db", default="banking_bench_steady", help="prefix of the databases made and dropped"
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="transactions per minute")
    parser.add_argument("--histories", default="0,1h,1d,7d")
    parser.add_argument(
        "--populations", default="default,5000", help="account counts; default = GeneratorSettings'"
    )
    parser.add_argument(
        "--windows", type=int, default=5, help="one-minute windows measured after each history"
    )
    parser.add_argument(
        "--warmup", type=int, default=WARMUP, help="unmeasured windows before each measurement"
    )
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="VACUUM ANALYZE after each history load, before its windows (else they run right after it)",
    )
    parser.add_argument(
        "--capacity", help="rates per minute: windows on populations sized for each (see the docstring)"
    )
    args = parser.parse_args(argv)
    histories = [parse_duration(h) for h in args.histories.split(",")]
    if args.capacity:
        if len(histories) != 1 or histories[0] <= timedelta(0):
            raise SystemExit("--capacity needs one history longer than 0 in --histories (for example 1h)")
        rates = [float(r) for r in args.capacity.split(",")]
        capacity(conninfo_to_dict(args.admin), args.db, rates, histories[0], args.windows, args.warmup)
        return 0
    steady(
        conninfo_to_dict(args.admin),
        args.db,
        args.rate,
        histories,
        parse_populations(args.populations),
        args.windows,
        args.warmup,
        args.analyze,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
