"""``make bench``: throughput against a plain COPY, dashboard latency at scale, freshness, parse times.

Every figure is printed as one ``name: value`` line, and the ratios are measured in the same run,
because the machines are shared and noisy. Sections:

- ``pipeline_*``: generate + score + load of batches of 1k, 10k and 100k transactions with the
  code of the DAG's three tasks (one window each, 100 transactions per minute, so history rules
  see a realistic stream; the score task regenerates the batch and stages it, the load task COPYs
  it), each task's rows/s, ``inprocess_rows_per_s`` for the same in one process without staging
  (backfills, the soak), and the peak RSS of the process that ran the batch;
- each batch size runs ``--rounds`` times (5), each round's figures back to back; the rates are
  medians over the rounds and each ratio is the median of the rounds' own ratios, all of which
  ``<ratio>_rounds`` lists, since a shared machine's speed drifts within a minute;
- ``copy_rows_per_s``: a plain COPY (text, COPY's default) of the same final rows into an identical
  empty table, and ``copy_binary_rows_per_s`` for the same in binary, the format the loader sends;
- ``seed_style_rows_per_s``: one INSERT and COMMIT per row, as the original notebook did, with
  ``pipeline_vs_seed`` and, as its ceiling on the machine, ``copy_vs_seed`` (a plain COPY's rate
  over the same loop's);
- ``copy_cost_*``: what the server's COPY of the largest loaded window costs: into a table like
  banking_data, and into the same without the account index, without any index, and without the
  original's denormalised columns (medians over ``--copy-repeats``, each after a CHECKPOINT);
- ``dashboard_*``: p50/p95 of every dashboard query with N rows loaded by the pipeline's loader
  (in a database of its own, ``<db>_dashboard``), for the dashboard's default range and for the
  last 30 days, each panel with the ``$__interval`` Grafana would give it;
- ``freshness_*``: lag from a scheduled run's window end to its commit, with Airflow's scheduler; with
  ``--freshness-history 7d``, in a database of its own (``<db>_history``, dropped afterwards) that first
  gets that much history up to now at ``--freshness-rate`` (the scheduled runs then go on at that rate);
- ``dag_parse_seconds``: each DAG file's parse time;
- ``population_*``: building, caching and seeding populations of 50,000 (the default), 1 million and
  10 million accounts, each in a process of its own, with its peak RSS (``scripts/bench_population.py``);
- ``steady_*``: one-minute windows at ``--steady-rate`` (1,000/min) after 0, 1 hour, 1 day and 7 days
  of history, per stage and as a ratio to the empty look-back (``scripts/bench_steady.py``);
- ``capacity``: one-minute windows at 10,000, 30,000 and 100,000 a minute after an hour of history,
  each on a population sized for its rate, and ``steady_largest_rate_within_10s``.

Uses ``BANKING_BENCH_DSN`` when set, else an embedded PostgreSQL in ``.data/bench`` (kept, so a
second run reuses the loaded rows). ``--quick`` runs every section but ``population``, ``steady`` and
``capacity`` on a tiny size (the tests do; ``tests/bench/test_population_quick.py`` and
``test_steady_quick.py`` run those three tiny).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import resource
import signal
import statistics
import subprocess
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
from tests.db.test_dashboard_queries import SEED_QUERIES, seed_queries  # noqa: E402
from tests.grafana.macros import TimeRange, expand, for_panel, format_interval  # noqa: E402

from banking import db, pipeline  # noqa: E402
from banking.model import MERCHANT_CATEGORIES, Window  # noqa: E402
from banking.rules import config  # noqa: E402
from banking.store import copy_format, partitions, schema  # noqa: E402
from banking.stream.settings import GeneratorSettings  # noqa: E402
from grafana import build_dashboard  # noqa: E402
from scripts import bench_population, bench_sql, bench_steady, embedded_postgres  # noqa: E402

STREAM_RATE = 100.0  # transactions per minute for the throughput batches
ROUND_DAYS = 10  # days between two rounds' windows: a 100k batch's two windows and their 7 days of history
T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)  # throughput batches start here; dashboard data ends here


def emit(name: str, value: float | int | str) -> None:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    print(f"{name}: {text}", flush=True)


def connect(admin: dict[str, str], dbname: str) -> psycopg.Connection:
    return psycopg.connect(make_conninfo(**{**admin, "dbname": dbname}), autocommit=True)


def prepare(admin: dict[str, str], dbname: str, settings: GeneratorSettings) -> None:
    embedded_postgres.ensure_database(admin, dbname)
    with connect(admin, dbname) as conn:
        schema.apply_migrations(conn)
        schema.seed_population(conn, settings)


# --- throughput --------------------------------------------------------------------------------


def one_batch(
    admin: dict[str, str], dbname: str, size: int, index: int, rounds: int
) -> list[dict[str, float]]:
    """``rounds`` rounds of one batch of about ``size`` rows: each through the DAG's three tasks' code,
    then in one process, then as a plain COPY of the same final rows, then the seed-style loop, back
    to back, so that each round's ratios compare figures measured within seconds of each other."""
    return [one_round(admin, dbname, size, index * rounds + r) for r in range(rounds)]


def one_round(admin: dict[str, str], dbname: str, size: int, slot: int) -> dict[str, float]:
    """One round of :func:`one_batch`, in windows of its own ``ROUND_DAYS`` apart, so that no round
    sees another's rows as history."""
    settings = GeneratorSettings(rate_per_minute=STREAM_RATE)
    rule_set = config.load_rules()
    minutes = max(1, round(size / STREAM_RATE))
    start = T0 + timedelta(days=ROUND_DAYS * slot)
    window = Window(start, start + timedelta(minutes=minutes))
    window2 = Window(window.end, window.end + timedelta(minutes=minutes))
    if window2.end - window.start + rule_set.lookback > timedelta(days=ROUND_DAYS):
        raise ValueError(f"a {size}-row batch spans more than {ROUND_DAYS} days with its history")
    figures: dict[str, float] = {}
    with connect(admin, dbname) as conn:
        # What a warm task process starts with (tasks.warm): the population's tables and merchant fragments.
        warm, _ = pipeline.generate(settings, Window(start - timedelta(minutes=1), start))
        copy_format.merchant_fragments(warm.tables)
        both = Window(window.start, window2.end)
        reset_days(conn, both)  # empty partitions, like the plain COPY's table
        partitions.ensure_partitions(conn, both)
        # The DAG's path: generate task, score task (regenerate, score, stage), load task (regenerate, load).
        t0 = time.perf_counter()
        batch, manifest = pipeline.generate(settings, window)
        t1 = time.perf_counter()
        pipeline.score_and_stage(conn, manifest, rule_set)
        t2 = time.perf_counter()
        pipeline.load(conn, manifest)
        t3 = time.perf_counter()
        figures.update(rows=len(batch), generate=t1 - t0, score=t2 - t1, load=t3 - t2, total=t3 - t0)
        # One process, no staging (backfills, the soak): COPY streams while rows are encoded.
        report = pipeline.run_window(conn, settings, rule_set, window2)
        figures["inprocess_rows"] = report.summary.rows
        figures["inprocess_total"] = sum(report.seconds.values())
        figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # The physical limit: a plain COPY of the same final rows into an identical empty table, in
        # COPY's default text format and in the binary format the loader sends.
        text, binary = (export_rows(conn, window, fmt) for fmt in ("text", "binary"))
        figures["copy"] = plain_copy(conn, text, "text")
        figures["copy_binary"] = plain_copy(conn, binary, "binary")
        n = min(len(batch), 2000)
        figures["seed_insert"], figures["seed_insert_rows"] = seed_insert_only(conn, text, n)
        figures["seed_style"], figures["seed_style_rows"] = seed_style(conn, n)
    return figures


def reset_days(conn: psycopg.Connection, window: Window) -> None:
    """Drop the partitions of the window's days and forget their windows (an earlier bench run's)."""
    first = window.start.date()
    days = [
        first + timedelta(days=i)
        for i in range((window.end - timedelta(microseconds=1)).date().toordinal() - first.toordinal() + 1)
    ]
    with conn.transaction():
        for day in days:
            conn.execute(
                psql.SQL("DROP TABLE IF EXISTS {}").format(psql.Identifier(f"banking_data_p{day:%Y%m%d}"))
            )
        bounds = {
            "start": datetime.combine(first, datetime.min.time(), timezone.utc),
            "end": datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), timezone.utc),
        }
        for statement in bench_sql.sql_statements("reset_days"):
            conn.execute(statement, bounds)


def copy_columns() -> list[str]:
    """The columns of the loader's COPY, in its order."""
    statement = "\n".join(
        line for line in db.sql("load/copy_banking_data").splitlines() if not line.startswith("--")
    )
    return [name.strip() for name in statement.split("(", 1)[1].split(")", 1)[0].split(",")]


def export_rows(
    conn: psycopg.Connection, window: Window, fmt: str, columns: list[str] | None = None
) -> bytes:
    """The window's loaded rows as a COPY payload in ``fmt`` (text or binary), in load order, of
    ``columns`` (the loader's COPY columns by default)."""
    query = psql.SQL(
        'COPY (SELECT {columns} FROM banking_data WHERE "timestamp" >= {start} AND "timestamp" < {end} '
        'ORDER BY "timestamp", uniq_id) TO STDOUT (FORMAT {fmt})'
    ).format(
        columns=psql.SQL(", ".join(columns or copy_columns())),
        start=psql.Literal(window.start),
        end=psql.Literal(window.end),
        fmt=psql.SQL(fmt),
    )
    data = bytearray()
    with conn.cursor() as cur, cur.copy(query) as copy:
        while block := copy.read():
            data += block
    return bytes(data)


def plain_copy(
    conn: psycopg.Connection,
    payload: bytes,
    fmt: str,
    table: str = "copy_table",
    columns: list[str] | None = None,
    checkpoint: bool = False,
) -> float:
    """Seconds to COPY ``payload`` into an empty table ``bench_copy`` made by the ``table`` benchmark
    SQL file (by default like banking_data, with its indexes and checks), after a CHECKPOINT if asked."""
    for statement in bench_sql.sql_statements(table):
        conn.execute(statement)
    if checkpoint:  # every variant starts with clean shared buffers (needs a superuser)
        conn.execute("CHECKPOINT")
    statement = f"COPY bench_copy ({', '.join(columns or copy_columns())}) FROM STDIN (FORMAT {fmt})"
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
        for lo in range(0, len(payload), 1 << 20):
            copy.write(payload[lo : lo + (1 << 20)])
    seconds = time.perf_counter() - started
    conn.execute("DROP TABLE bench_copy")
    return seconds


def seed_insert_only(conn: psycopg.Connection, payload: bytes, n: int) -> tuple[float, int]:
    """The pipeline's own final rows, inserted into a copy of banking_data with one INSERT and one COMMIT each."""
    table = "bench_seed"
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE {table} (LIKE banking_data INCLUDING ALL)")
    names = copy_columns()
    insert = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
    records = [
        [None if v == "\\N" else v for v in line.decode().rstrip("\n").split("\t")]
        for line in itertools.islice(io.BytesIO(payload), n)
    ]
    with psycopg.connect(conn.info.dsn, password=conn.info.password) as row_conn:
        started = time.perf_counter()
        for record in records:
            row_conn.execute(insert, record)
            row_conn.commit()
        seconds = time.perf_counter() - started
    conn.execute(f"DROP TABLE {table}")
    return seconds, len(records)


def seed_style(conn: psycopg.Connection, n: int) -> tuple[float, int]:
    """The original notebook's loop without its 15 s sleep, on the same server: for every 10 rows,
    create the table if it is missing, then Faker draws each row, which is inserted into the
    original's table with one INSERT and one COMMIT."""
    import random
    import uuid

    from faker import Faker

    drop, create_if_missing = bench_sql.sql_statements("original_table")
    conn.execute(drop)
    conn.execute(create_if_missing)
    fake = Faker()
    fake.seed_instance(0)
    rng = random.Random(0)
    insert = bench_sql.sql("original_insert")
    with psycopg.connect(conn.info.dsn, password=conn.info.password) as row_conn:
        started = time.perf_counter()
        for i in range(n):
            if i % 10 == 0:  # each pass of the original's loop made 10 transactions
                row_conn.execute(create_if_missing)
                row_conn.commit()
            card_type = rng.choice(("visa", "mastercard"))
            kind = rng.choice(("Real_time_transaction", "settlements", "dispute"))
            amount = round(rng.uniform(10, 1000), 2)
            rejected = kind == "Real_time_transaction" and amount >= 100
            row_conn.execute(
                insert,
                (
                    datetime.now(timezone.utc),
                    uuid.uuid4(),
                    kind,
                    amount,
                    round(rng.uniform(10, 1000), 2),
                    fake.name(),
                    rng.choice(("Present", "Not Present")),
                    rng.choice(MERCHANT_CATEGORIES),
                    card_type,
                    fake.credit_card_number(card_type="visa16" if card_type == "visa" else "mastercard"),
                    uuid.uuid4(),
                    rng.random() < 0.5,
                    "Rule1" if rejected else "No Rules Triggered",
                    "High-value real-time transaction" if rejected else "No rule applies",
                    "Rejected" if rejected else "Approved",
                ),
            )
            row_conn.commit()
        seconds = time.perf_counter() - started
    conn.execute("DROP TABLE bench_original")
    return seconds, n


def throughput(admin: dict[str, str], dbname: str, sizes: list[int], rounds: int) -> None:
    """Each size's figures over ``rounds`` rounds: each rate is its median over the rounds, each ratio
    the median of the rounds' own ratios, and ``<ratio>_rounds`` lists every round's ratio."""
    for index, size in enumerate(sizes):
        # A fresh process per batch size, so that its peak RSS is the batch's own.
        result = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one-batch",
                str(size),
                "--batch-index",
                str(index),
                "--rounds",
                str(rounds),
                "--admin",
                json.dumps(admin),
                "--db",
                dbname,
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode:
            raise RuntimeError(f"the {size}-row batch failed:\n{result.stderr[-3000:]}")
        label = f"{size // 1000}k" if size >= 1000 else str(size)
        for name, value in round_figures(json.loads(result.stdout.strip().splitlines()[-1])):
            emit(name.format(label), value)


def round_figures(rounds: list[dict[str, float]]) -> list[tuple[str, float | int | str]]:
    """The ``name: value`` figures of a batch size's rounds (names with ``{}`` for the size)."""

    def median(f) -> float:
        return statistics.median(f(r) for r in rounds)

    def rate(r: dict[str, float], seconds: str, rows: str = "rows") -> float:
        return r[rows] / r[seconds]

    figures: list[tuple[str, float | int | str]] = [
        ("pipeline_rows[{}]", int(median(lambda r: r["rows"]))),
        ("pipeline_rows_per_s[{}]", median(lambda r: rate(r, "total"))),
    ]
    figures += [
        (f"stage_rows_per_s[{{}},{stage}]", median(lambda r, s=stage: rate(r, s)))
        for stage in ("generate", "score", "load")
    ]
    figures += [
        ("inprocess_rows_per_s[{}]", median(lambda r: rate(r, "inprocess_total", "inprocess_rows"))),
        ("copy_rows_per_s[{}]", median(lambda r: rate(r, "copy"))),
        ("copy_binary_rows_per_s[{}]", median(lambda r: rate(r, "copy_binary"))),
        ("seed_style_rows_per_s[{}]", median(lambda r: rate(r, "seed_style", "seed_style_rows"))),
        ("seed_insert_only_rows_per_s[{}]", median(lambda r: rate(r, "seed_insert", "seed_insert_rows"))),
    ]
    ratios = {
        "pipeline_vs_copy": lambda r: r["copy"] / r["total"],
        "pipeline_vs_copy_binary": lambda r: r["copy_binary"] / r["total"],
        "pipeline_vs_seed": lambda r: rate(r, "total") / rate(r, "seed_style", "seed_style_rows"),
        # The ceiling of pipeline_vs_seed on this machine: a plain COPY of the rows against the same loop.
        "copy_vs_seed": lambda r: rate(r, "copy") / rate(r, "seed_style", "seed_style_rows"),
        "copy_binary_vs_seed": lambda r: rate(r, "copy_binary") / rate(r, "seed_style", "seed_style_rows"),
        "pipeline_vs_seed_insert_only": lambda r: (
            rate(r, "total") / rate(r, "seed_insert", "seed_insert_rows")
        ),
    }
    for name, ratio in ratios.items():
        figures.append((f"{name}[{{}}]", median(ratio)))
        figures.append((f"{name}_rounds[{{}}]", " ".join(f"{ratio(r):.4g}" for r in rounds)))
    # The first round's, taken before any plain COPY baseline was exported: the pipeline's own peak.
    figures.append(("peak_rss_mb[{}]", rounds[0]["peak_rss_mb"]))
    return figures


# --- dashboard latency -------------------------------------------------------------------------


def dashboard_queries() -> dict[str, str]:
    """Every SQL query of the provisioned dashboard, plus the original project's seven."""
    queries = {f"panel:{panel.title}": panel.sql for panel in build_dashboard.PANELS}
    if SEED_QUERIES.exists():
        queries.update((f"seed:{i}", query) for i, query in enumerate(seed_queries(), start=1))
    return queries


def dashboard_database(dbname: str) -> str:
    """The dashboard section's own database, beside ``dbname``: the freshness section runs Airflow
    with the banking_retention DAG on ``dbname``, which drops every day older than 30 days (all of
    the dashboard data, which ends at T0), and the throughput section resets days there."""
    return f"{dbname}_dashboard"


def hour_rollups_match(conn: psycopg.Connection) -> bool:
    """The hourly rollups hold exactly the per-minute rollups' totals (migration 0008 fills them for
    data loaded before it; every load keeps them up to date)."""
    return conn.execute(bench_sql.sql("hour_rollups_match")).fetchone()[0]


def load_dataset(admin: dict[str, str], dbname: str, target_rows: int, rate: float) -> datetime:
    """Load about ``target_rows`` rows ending at T0 with the pipeline's loader into
    :func:`dashboard_database`, unless they are there with their rollups; returns the end."""
    dbname = dashboard_database(dbname)
    prepare(admin, dbname, GeneratorSettings())
    settings = GeneratorSettings(rate_per_minute=rate)
    rule_set = config.load_rules()
    with connect(admin, dbname) as conn:
        have = conn.execute(bench_sql.sql("loaded_rows_until"), (T0,)).fetchone()[0]
        if have >= target_rows * 0.95 and hour_rollups_match(conn):
            emit("dashboard_dataset", "reused")
            emit("dashboard_dataset_rows", have)
            return T0
        conn.execute(bench_sql.sql("forget_loads_until"), (T0,))
        total_minutes = max(1, round(target_rows / rate))
        step = max(1, min(total_minutes, round(1_000_000 / rate)))  # windows of about a million rows
        started = time.perf_counter()
        loaded = 0
        t = T0 - timedelta(minutes=total_minutes)
        while t < T0:
            end = min(T0, t + timedelta(minutes=step))
            loaded += pipeline.run_window(conn, settings, rule_set, Window(t, end)).summary.rows
            t = end
        conn.execute("ANALYZE")
        emit("dashboard_dataset_rows", loaded)
        emit("dashboard_dataset_load_rows_per_s", loaded / (time.perf_counter() - started))
        if not hour_rollups_match(conn):
            raise RuntimeError("the hourly rollups do not add up to the per-minute rollups after the load")
    return T0


def dashboard_latency(admin: dict[str, str], dbname: str, end: datetime, repeats: int) -> None:
    """p50 and p95 of each query, as the read-only role, for the default range and the last 30 days.

    Each panel's macros are expanded with the ``$__interval`` Grafana would give it for the range
    (its "Max data points" and "Min interval", see tests/grafana/macros.grafana_interval), printed
    as ``dashboard_interval``. The original project's seven queries (``seed:*``) are not panels of
    this dashboard: their worst p95 is printed apart from the panels'."""
    panels = {f"panel:{panel.title}": panel for panel in build_dashboard.PANELS}
    queries = dashboard_queries()
    with connect(admin, dashboard_database(dbname)) as conn:
        conn.execute("SET ROLE banking_reader")
        for range_name, span in (("default", timedelta(hours=1)), ("30d", timedelta(days=30))):
            worst = {"panel": 0.0, "seed": 0.0}
            for name, query in queries.items():
                panel = panels.get(name)
                time_range = for_panel(end - span, end, panel) if panel else TimeRange(end - span, end)
                if "$__interval" in query:
                    emit(f"dashboard_interval[{range_name},{name}]", format_interval(time_range.interval))
                expanded = expand(query, time_range)
                samples = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    conn.execute(expanded).fetchall()
                    samples.append((time.perf_counter() - t) * 1000)
                p50 = statistics.median(samples)
                p95 = statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]
                kind = "panel" if panel else "seed"
                worst[kind] = max(worst[kind], p95)
                emit(f"dashboard_ms[{range_name},{name},p50]", p50)
                emit(f"dashboard_ms[{range_name},{name},p95]", p95)
            emit(f"dashboard_worst_p95_ms[{range_name}]", worst["panel"])
            if len(queries) > len(panels):
                emit(f"dashboard_seed_worst_p95_ms[{range_name}]", worst["seed"])


# --- freshness and parse time ------------------------------------------------------------------


def freshness_with_history(
    admin: dict[str, str], dbname: str, runs: int, rate: float, history: timedelta
) -> None:
    """:func:`freshness` on a fresh database holding ``history`` up to now at ``rate`` a minute."""
    settings = GeneratorSettings(rate_per_minute=rate)
    bench_steady.recreate(admin, dbname)
    try:
        prepare(admin, dbname, settings)
        end = datetime.now(timezone.utc).replace(second=0, microsecond=0)
        started = time.perf_counter()
        with connect(admin, dbname) as conn:
            pipeline.warm_start(conn, settings, config.load_rules(), end, history)
            rows = conn.execute("SELECT count(*) FROM banking_data").fetchone()[0]
        emit("freshness_history_rows", rows)
        emit("freshness_history_load_s", time.perf_counter() - started)
        freshness(admin, dbname, runs, {"BANKING_RATE_PER_MINUTE": f"{rate:g}"})
    finally:
        bench_steady.drop(admin, dbname)


def freshness(
    admin: dict[str, str], dbname: str, runs: int, settings_env: dict[str, str] | None = None
) -> None:
    """Run Airflow's scheduler for ``runs`` scheduled minutes; lag = commit time - window end."""
    import tempfile

    from scripts.run import airflow_env

    home = Path(tempfile.mkdtemp(prefix="bench-airflow-"))
    env = airflow_env(embedded_postgres.airflow_uri(admin, dbname)) | (settings_env or {})
    port = env.get("BANKING_BENCH_PORT", "8790")
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__API__PORT=port,
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://localhost:{port}/execution/",
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    started_at = datetime.now(timezone.utc)
    log = (home / "standalone.log").open("w")
    process = subprocess.Popen(
        [airflow, "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        # The runs of the first two minutes wait for Airflow's start-up, and may catch up the minutes
        # since the data was loaded: they measure the start, not freshness.
        settled = started_at + timedelta(minutes=2)
        deadline = time.monotonic() + 60 * (runs + 5)
        with connect(admin, dbname) as conn:
            while time.monotonic() < deadline:
                n = conn.execute(bench_sql.sql("scheduled_loads_since"), (settled,)).fetchone()[0]
                if n >= runs:
                    break
                time.sleep(10)
            lags = [r[0] for r in conn.execute(bench_sql.sql("scheduled_lags_since"), (started_at, settled))]
    finally:
        # Stop standalone and every component it started (they share its process group).
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
    lags = [float(x) for x in lags]
    if not lags:
        raise RuntimeError(f"no scheduled run loaded a window; see {home / 'standalone.log'}")
    emit("freshness_runs", len(lags))
    if lags:
        emit("freshness_p50_s", statistics.median(lags))
        emit("freshness_p95_s", statistics.quantiles(lags, n=20)[-1] if len(lags) >= 2 else lags[0])


# --- what the server's COPY costs ----------------------------------------------------------------

COPY_VARIANTS = {
    "all": "copy_table",
    "no_account_index": "copy_table_no_account_index",
    "no_index": "copy_table_no_index",
    "narrow": "copy_table_narrow",
}


def narrow_columns(conn: psycopg.Connection) -> list[str]:
    """The loader's COPY columns that bench_sql/copy_table_narrow keeps (it drops the denormalised ones)."""
    for statement in bench_sql.sql_statements("copy_table_narrow"):
        conn.execute(statement)
    kept = {column.name for column in conn.execute(bench_sql.sql("copy_table_columns")).description or ()}
    conn.execute("DROP TABLE bench_copy")
    return [name for name in copy_columns() if name.strip('"') in kept]


def copy_cost(admin: dict[str, str], dbname: str, repeats: int) -> None:
    """The binary COPY of the largest loaded window into an empty table like banking_data, and into
    the same without the account index, without any index, and without the denormalised columns:
    each variant's median seconds over ``repeats`` (interleaved, each after a CHECKPOINT) and its
    share of the full COPY's time."""
    with connect(admin, dbname) as conn:
        found = conn.execute(bench_sql.sql("largest_window")).fetchone()
        if found is None:
            raise RuntimeError("copy_cost needs a loaded window: run the throughput section first")
        window = Window(found[0], found[1])
        narrow = narrow_columns(conn)
        payloads = {
            "full": export_rows(conn, window, "binary"),
            "narrow": export_rows(conn, window, "binary", narrow),
        }
        seconds: dict[str, list[float]] = {name: [] for name in COPY_VARIANTS}
        for _ in range(repeats):
            for name, table in COPY_VARIANTS.items():
                payload, columns = (
                    (payloads["narrow"], narrow) if name == "narrow" else (payloads["full"], None)
                )
                seconds[name].append(plain_copy(conn, payload, "binary", table, columns, checkpoint=True))
    emit("copy_cost_rows", found[2])
    full = statistics.median(seconds["all"])
    for name, values in seconds.items():
        emit(f"copy_cost_s[{name}]", statistics.median(values))
        emit(f"copy_cost_vs_all[{name}]", statistics.median(values) / full)


def parse_times() -> None:
    import tempfile

    from tests.dags.test_dag_integrity import PROBE

    home = tempfile.mkdtemp(prefix="bench-parse-")
    for path in sorted((ROOT / "dags").glob("*.py")):
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        result = subprocess.run(
            [sys.executable, "-c", PROBE, str(path)], env=env, capture_output=True, text=True, check=True
        )
        emit(f"dag_parse_seconds[{path.name}]", json.loads(result.stdout.strip().splitlines()[-1])["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every section on a tiny size (for the tests)")
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--dashboard-rows", type=int, default=10_000_000)
    parser.add_argument("--dashboard-rate", type=float, default=250.0, help="rows per minute of that data")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each throughput batch size")
    parser.add_argument("--copy-repeats", type=int, default=7, help="COPYs of each copy_cost variant")
    parser.add_argument("--freshness-runs", type=int, default=10)
    parser.add_argument("--freshness-history", help="freshness: history loaded first, e.g. 7d (else none)")
    parser.add_argument(
        "--freshness-rate", type=float, default=1000.0, help="freshness: with --freshness-history"
    )
    parser.add_argument(
        "--sections",
        default="throughput,copy_cost,dashboard,freshness,parse,population,steady,capacity",
        help="which sections to run",
    )
    parser.add_argument("--population-sizes", default="50000,1000000,10000000", help="population: accounts")
    parser.add_argument("--steady-rate", type=float, default=1000.0, help="steady: transactions per minute")
    parser.add_argument("--steady-histories", default="0,1h,1d,7d", help="steady: history lengths")
    parser.add_argument("--steady-populations", default="default,5000", help="steady: account counts")
    parser.add_argument("--capacity-rates", default="10000,30000,100000", help="capacity: per minute")
    parser.add_argument("--capacity-history", default="1h", help="capacity: the history behind the windows")
    parser.add_argument("--one-batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--admin", help=argparse.SUPPRESS)
    parser.add_argument("--db", default="banking_bench")
    args = parser.parse_args(argv)

    if args.one_batch:
        print(
            json.dumps(
                one_batch(json.loads(args.admin), args.db, args.one_batch, args.batch_index, args.rounds)
            )
        )
        return 0
    if args.quick:
        args.sizes, args.dashboard_rows, args.repeats, args.freshness_runs = "200,500", 3000, 3, 0
        args.rounds, args.copy_repeats = 3, 1

    server = None
    dsn = os.environ.get("BANKING_BENCH_DSN")
    if dsn:
        admin = conninfo_to_dict(dsn)
    else:
        data_dir = Path(os.environ.get("BANKING_BENCH_DATA_DIR", ROOT / ".data" / "bench"))
        server, admin = embedded_postgres.start(data_dir)
    dbname = args.db + ("_quick" if args.quick else "")
    try:
        emit("machine", f"{os.cpu_count()} cpus, {sys.platform}, python {sys.version.split()[0]}")
        sections = set(args.sections.split(","))
        prepare(admin, dbname, GeneratorSettings())
        if "throughput" in sections:
            throughput(admin, dbname, [int(s) for s in args.sizes.split(",")], args.rounds)
        if "dashboard" in sections:
            end = load_dataset(admin, dbname, args.dashboard_rows, args.dashboard_rate)
            dashboard_latency(admin, dbname, end, args.repeats)
        if "freshness" in sections and args.freshness_runs:
            if args.freshness_history:
                history = bench_steady.parse_duration(args.freshness_history)
                freshness_with_history(
                    admin, dbname + "_history", args.freshness_runs, args.freshness_rate, history
                )
            else:
                freshness(admin, dbname, args.freshness_runs)
        if "copy_cost" in sections:
            copy_cost(admin, dbname, args.copy_repeats)
        if "parse" in sections:
            parse_times()
        if "population" in sections and not args.quick:  # tests/bench/test_population_quick.py runs it tiny
            bench_population.population(
                [int(n) for n in args.population_sizes.split(",")],
                make_conninfo(**admin),
                dbname + "_population",
                emit,
            )
        if "steady" in sections and not args.quick:  # tests/bench/test_steady_quick.py runs it tiny
            bench_steady.steady(
                admin,
                dbname + "_steady",
                args.steady_rate,
                [bench_steady.parse_duration(h) for h in args.steady_histories.split(",")],
                bench_steady.parse_populations(args.steady_populations),
                windows=5,
            )
        if "capacity" in sections and not args.quick:  # tests/bench/test_steady_quick.py runs it tiny
            bench_steady.capacity(
                admin,
                dbname + "_capacity",
                [float(r) for r in args.capacity_rates.split(",")],
                bench_steady.parse_duration(args.capacity_history),
                windows=3,
            )
    finally:
        if server is not None:
            server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
