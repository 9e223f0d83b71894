"""What each DAG task does, given the run's interval and params; the DAG files only wire these up.

Each function takes plain values (no Airflow context object), logs its progress and counts, and
returns a small JSON-able dict for XCom.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from banking import db, pipeline
from banking.backtest import replay
from banking.backtest.spec import parse_spec
from banking.model import LoadError, ParamsError, Window, WindowError
from banking.rules.config import RuleConfigError, load_rules
from banking.rules.rule_set import RuleSet
from banking.store import account_tiles, copy_format, partitions, retention, schema
from banking.stream.settings import (
    BUSY_ACCOUNT_TXNS_PER_DAY,
    MAX_WINDOW_MINUTES,
    STREAM_FIELDS,
    TRIGGER_PARAMS,
    SettingsError,
    from_env,
)

log = logging.getLogger(__name__)

MAX_WINDOW_ROWS = 2_000_000  # expected rows per window; more belongs in a backfill of many windows
RULES_FILE_ENV = "BANKING_RULES_FILE"
# How far back a scheduled run catches up after downtime, and how much history a new database gets.
CATCH_UP_HOURS_ENV, DEFAULT_CATCH_UP_HOURS = "BANKING_CATCH_UP_HOURS", 24
WARM_START_DAYS_ENV, DEFAULT_WARM_START_DAYS = "BANKING_WARM_START_DAYS", 7
SCHEDULED = "scheduled"  # the run type of the runs the scheduler creates on the schedule


def live_rules() -> RuleSet:
    """The live rule set: ``BANKING_RULES_FILE``, else include/rules/rules.yaml."""
    return load_rules(os.environ.get(RULES_FILE_ENV) or None)


def duration_setting(name: str, default: float, unit: timedelta, maximum: float) -> timedelta:
    """A duration from the environment variable ``name`` in ``unit``s (0 turns the feature off)."""
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else float(default)
    except ValueError:
        value = -1.0
    if not 0 <= value <= maximum:  # also false for NaN
        raise SettingsError(
            f"environment variable {name}: expected a number from 0 to {maximum:g}, got {raw!r}"
        )
    return value * unit


def warm() -> None:
    """Import the pipeline and build the configured population's tables and COPY fragments in this
    process, so that the task processes it forks start with them (``airflow_local_settings.py``)."""
    from banking.stream.batch import tables_for
    from banking.stream.population import population_for

    started = time.perf_counter()
    tables = tables_for(population_for(from_env()))
    copy_format.merchant_fragments(tables)
    log.info(
        "warmed the banking tasks (population %s) in %.2fs", tables.version, time.perf_counter() - started
    )


# Errors that a retry cannot fix: bad params, settings or rules, a batch that is not what was generated
# or that cannot be encoded (an amount no column holds).
PERMANENT_ERRORS = (
    ParamsError,
    SettingsError,
    WindowError,
    RuleConfigError,
    pipeline.FingerprintMismatch,
    LoadError,
    copy_format.EncodeError,
)


@contextmanager
def fail_fast() -> Iterator[None]:
    """Turn permanent errors into Airflow's AirflowFailException, so the task fails without retrying."""
    try:
        yield
    except PERMANENT_ERRORS as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def window_of_run(
    interval_start: datetime | None,
    interval_end: datetime | None,
    run_after: datetime | None,
    window_minutes: int | None = None,
) -> Window:
    """The data window a run owns.

    Scheduled runs (and manual runs, which the data-interval timetable gives the last complete
    minute before they were triggered) own their data interval. ``window_minutes`` stretches the
    window back from its end. A run without an interval owns the minute before ``run_after``.
    """
    if interval_start is not None and interval_end is not None and interval_end > interval_start:
        start, end = interval_start, interval_end
    elif run_after is not None:
        end = run_after.astimezone(timezone.utc).replace(second=0, microsecond=0)
        start = end - timedelta(minutes=1)
    else:
        raise ParamsError(
            "the run has neither a data interval nor a run_after time to derive its window from"
        )
    if window_minutes is not None:
        start = end - timedelta(minutes=window_minutes)
    return Window(start, end)


def generate(
    params: Mapping[str, Any],
    interval_start: datetime | None,
    interval_end: datetime | None,
    run_after: datetime | None,
    run_type: str | None = None,
    conn_id: str = db.DEFAULT_CONN_ID,
) -> dict[str, Any]:
    """Validate the params, choose the window (a scheduled run also loads what downtime missed),
    generate it and return its manifest."""
    unknown = sorted(k for k in params if k not in TRIGGER_PARAMS)
    if unknown:
        raise ParamsError(
            f"unknown trigger param(s) {', '.join(unknown)}; allowed: {', '.join(TRIGGER_PARAMS)}"
        )
    minutes = params.get("window_minutes")
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_WINDOW_MINUTES
    ):
        raise ParamsError(
            f"window_minutes must be an integer from 1 to {MAX_WINDOW_MINUTES}, got {minutes!r}"
        )
    try:
        settings = from_env().with_overrides(
            {k: params.get(k) for k in STREAM_FIELDS}, source="trigger params"
        )
    except SettingsError as exc:
        raise ParamsError(str(exc)) from None
    window = window_of_run(interval_start, interval_end, run_after, minutes)
    if run_type == SCHEDULED and minutes is None:
        window = _caught_up(window, settings.rate_per_minute, conn_id)
    expected = settings.rate_per_minute * window.minutes
    if expected > MAX_WINDOW_ROWS:
        raise ParamsError(
            f"window {window} at {settings.rate_per_minute:g}/min means about {expected:,.0f} rows, over the "
            f"{MAX_WINDOW_ROWS:,} per window limit: lower rate_per_minute or window_minutes, or backfill"
        )
    if settings.txns_per_account_per_day > BUSY_ACCOUNT_TXNS_PER_DAY:
        log.warning(
            "%g transactions a minute on %d accounts is %.0f a day per account (real customers make 1 to 3):"
            " the velocity rules will flag ordinary traffic; raise BANKING_N_ACCOUNTS to about %d",
            settings.rate_per_minute,
            settings.n_accounts,
            settings.txns_per_account_per_day,
            settings.realistic_n_accounts,
        )
    started = time.perf_counter()
    batch, manifest = pipeline.generate(settings, window)
    log.info(
        "generated %d transactions for %s in %.2fs; injected fraud: %s",
        len(batch),
        window,
        time.perf_counter() - started,
        manifest.scenarios or "none",
    )
    return manifest.as_xcom()


def _caught_up(interval: Window, rate_per_minute: float, conn_id: str) -> Window:
    """The scheduled run's window after downtime (see pipeline.catch_up), with what it says logged."""
    bound = duration_setting(CATCH_UP_HOURS_ENV, DEFAULT_CATCH_UP_HOURS, timedelta(hours=1), 24 * 366)
    if not bound:
        return interval
    max_minutes = MAX_WINDOW_ROWS // rate_per_minute if rate_per_minute > 0 else bound / timedelta(minutes=1)
    with db.hook_connection(conn_id) as conn:
        result = pipeline.catch_up(conn, interval, bound, timedelta(minutes=max(1, int(max_minutes))))
    if result.skipped is not None:
        log.error(
            "the stream was down for longer than %s (%s=%g): %s was not loaded and is skipped; to load it: "
            'make airflow ARGS="backfill create --dag-id banking_transactions --from-date %s --to-date %s '
            '--max-active-runs 1"',
            bound,
            CATCH_UP_HOURS_ENV,
            bound / timedelta(hours=1),
            result.skipped,
            result.skipped.start.isoformat(),
            result.skipped.end.isoformat(),
        )
    if result.missed_minutes:
        log.warning(
            "catching up %d missed minute(s): loading %s%s",
            result.missed_minutes,
            result.window,
            f"; still behind by {result.behind}, which the next runs load" if result.behind else "",
        )
    return result.window


def score(manifest: Mapping[str, Any], conn_id: str = db.DEFAULT_CONN_ID) -> dict[str, Any]:
    """Regenerate the window, score it against its history and stage the scores for the load."""
    m = pipeline.Manifest.from_xcom(dict(manifest))
    rule_set = live_rules()
    started = time.perf_counter()
    with db.hook_connection(conn_id) as conn:
        summary, staged_bytes = pipeline.score_and_stage(conn, m, rule_set)
    log.info(
        "scored %d transactions of %s with rule set %s in %.2fs: %d approved, %d review, %d rejected; "
        "hits per rule: %s; staged %d bytes",
        summary.rows,
        m.window,
        rule_set.version,
        time.perf_counter() - started,
        summary.approved,
        summary.review,
        summary.rejected,
        summary.hits_by_rule or "none",
        staged_bytes,
    )
    return summary.as_dict()


def load(
    manifest: Mapping[str, Any], run_id: str | None, conn_id: str = db.DEFAULT_CONN_ID
) -> dict[str, Any]:
    """Regenerate the window and replace its rows with them and their staged scores, in one transaction."""
    m = pipeline.Manifest.from_xcom(dict(manifest))
    with db.hook_connection(conn_id) as conn:
        result = pipeline.load(conn, m, run_id)
    log.info(
        "loaded %s: %d rows in %.2fs (replaced %d rows of an earlier run, created %d partitions)",
        m.window,
        result.inserted,
        result.seconds,
        result.deleted,
        result.partitions_created,
    )
    return {"window_start": m.window.start.isoformat(), "rows": result.inserted, "replaced": result.deleted}


def set_up_schema(reference: datetime, days_ahead: int, conn_id: str = db.DEFAULT_CONN_ID) -> dict[str, Any]:
    """Migrations, login roles, population seed and partitions for the days ahead of ``reference``."""
    settings = from_env()
    duration_setting(WARM_START_DAYS_ENV, DEFAULT_WARM_START_DAYS, timedelta(days=1), 31)  # fail early
    with db.hook_connection(conn_id) as conn:
        applied = schema.apply_migrations(conn)
        roles = schema.ensure_login_roles(conn, os.environ)
        seeded = schema.seed_population(conn, settings)
        created = partitions.ensure_days_ahead(conn, reference, days_ahead)
    log.info(
        "migrations applied: %s; login roles: %s; population %s %s; partitions created: %d",
        applied or "none new",
        roles or "none configured",
        settings.population_version,
        "seeded" if seeded else "already there",
        created,
    )
    return {"applied": applied, "roles": roles, "population_seeded": seeded, "partitions_created": created}


def warm_start(reference: datetime, conn_id: str = db.DEFAULT_CONN_ID) -> dict[str, Any]:
    """On a new database, load the history the rules look back over, ending at ``reference``'s minute
    (``BANKING_WARM_START_DAYS``, 0 = off), so every rule and panel works from the first minute."""
    duration = duration_setting(WARM_START_DAYS_ENV, DEFAULT_WARM_START_DAYS, timedelta(days=1), 31)
    end = reference.astimezone(timezone.utc).replace(second=0, microsecond=0)
    settings = from_env()
    rule_set = live_rules()
    started = time.perf_counter()
    with db.hook_connection(conn_id) as conn:
        reports = pipeline.warm_start(conn, settings, rule_set, end, duration)
    rows = sum(r.load.inserted for r in reports)
    if reports:
        log.info(
            "warm start: loaded %d rows of history in %d windows up to %s in %.1fs",
            rows,
            len(reports),
            end.isoformat(),
            time.perf_counter() - started,
        )
    else:
        log.info(
            "warm start: nothing to load (%s=%g): the database already holds the time up to %s, or older data",
            WARM_START_DAYS_ENV,
            duration / timedelta(days=1),
            end.isoformat(),
        )
    return {"rows": rows, "windows": len(reports), "end": end.isoformat()}


def apply_retention(
    reference: datetime, retention_days: int, dry_run: bool, conn_id: str = db.DEFAULT_CONN_ID
) -> dict[str, Any]:
    with db.hook_connection(conn_id) as conn:
        lookback = live_rules().lookback
        result = retention.apply_retention(conn, reference, retention_days, dry_run, lookback)
    log.info(
        "%s partitions before %s: %s; audit rows: %d; stale staged windows: %d",
        "would drop" if dry_run else "dropped",
        result.cutoff,
        result.partitions or "none",
        result.batches,
        result.staged,
    )
    return {
        "cutoff": result.cutoff.isoformat(),
        "dry_run": dry_run,
        "partitions": result.partitions,
        "batches": result.batches,
        "staged": result.staged,
    }


def seal_closed_days(reference: datetime, conn_id: str = db.DEFAULT_CONN_ID) -> dict[str, Any]:
    """Seal the history state of the days that ended by ``reference`` and keep the live rules' block
    where their windows read it (``pipeline.maintain_state``)."""
    with db.hook_connection(conn_id) as conn:
        days = [f"{d:%Y-%m-%d}" for d in pipeline.maintain_state(conn, live_rules(), reference)]
        block = account_tiles.block(conn)
    log.info("sealed %d day(s): %s", len(days), ", ".join(days) or "none")
    if block is not None:
        log.info("history block: %s to %s", block.since.isoformat(), block.until.isoformat())
    return {
        "sealed": days,
        "block": None if block is None else [block.since.isoformat(), block.until.isoformat()],
    }


def run_backtest(
    params: Mapping[str, Any], run_id: str | None, conn_id: str = db.DEFAULT_CONN_ID
) -> dict[str, Any]:
    """Replay a range with candidate rules; bad params fail before the database is touched. Returns a
    small XCom summary (the results and metrics are in the backtest tables)."""
    spec = parse_spec(params)
    with db.hook_connection(conn_id) as conn:
        return replay.run_logged(conn, spec, run_id).as_xcom()
