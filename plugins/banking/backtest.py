"""Rule backtests: what a candidate rule set would have decided over transactions already loaded.

A backtest replays every loaded window (a ``banking_batches`` row) that lies inside the range
``[start, end)``, in window order, exactly as the live score task scored it: the window's stored
rows are read from ``banking_data`` as the engine's columns, the accounts' history before the window
is read with the candidate's look-back (``history.read_history``, as the live score task reads it),
and ``scoring.score_columns`` decides, the same engine the live pipeline calls. Windows that overlap the range only partly are skipped, because a part of a window does not
score like the whole one. The history is what ``banking_data`` holds now, which is what the live
scoring saw as long as the windows were loaded in window order (the stream, or an ordered backfill).

Output, keyed by the backtest id (``include/sql/migrations/0007_backtests.sql``):
``banking_backtest_runs`` (one row per id), ``banking_backtest_results`` (the candidate's verdict on
every replayed transaction) and ``banking_backtest_metrics`` (per rule and overall, for the live
decisions and the candidate's: hits, rejections, rejected amount, precision and recall against
the injected ground truth ``fraud_scenario``). ``banking_data`` is only read.

Bad input (params, rules, an empty, reversed or data-less range) raises :class:`BacktestInputError`
before anything is written. A rerun with the same id first removes that id's earlier output, in
one transaction with marking it running; each chunk's results are then written in a transaction
of their own and the metrics with the final status in the last one, so a rerun leaves the same rows.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row

from banking import db, paths, rules
from banking.batch import COUNTRY_CODES, IdIndex
from banking.db import sql, sql_statements
from banking.history import read_history
from banking.model import (
    CARD_NOT_PRESENT,
    MERCHANT_CATEGORIES,
    REJECTED,
    REVIEW,
    TRANS_TYPES,
    RuleHit,
    Window,
    micros,
)
from banking.scoring import Columns, Scores, score_columns
from banking.tasks import ParamsError

log = logging.getLogger(__name__)

PARAMS = ("backtest_id", "rules_file", "rules_json", "start", "end", "chunk_minutes")
BACKTEST_ID_PATTERN = "^[a-z0-9_-]{1,64}$"
DEFAULT_CHUNK_MINUTES = 60
MAX_CHUNK_MINUTES = 7 * 1440
MAX_RANGE = timedelta(days=366)
LIVE, CANDIDATE = "live", "candidate"
VARIANTS = (LIVE, CANDIDATE)
OVERALL = "*"  # the rule_id of the overall metrics

_BACKTEST_ID = re.compile(BACKTEST_ID_PATTERN)


class BacktestInputError(ParamsError):
    """Backtest params, rules or a range that cannot be used; nothing was written."""


class BacktestBusy(RuntimeError):
    """Another session is running a backtest with the same id; a retry may succeed."""


# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestSpec:
    """A validated backtest request."""

    backtest_id: str
    rule_set: rules.RuleSet
    rules_text: str  # the candidate rules as given (file content or canonical JSON), kept with the run
    range: Window
    chunk: timedelta

    @property
    def chunk_minutes(self) -> int:
        return int(self.chunk / timedelta(minutes=1))


def parse_spec(params: Mapping[str, Any]) -> BacktestSpec:
    """Validate the trigger params (see ``PARAMS``); raises BacktestInputError or RuleConfigError."""
    unknown = sorted(k for k in params if k not in PARAMS)
    if unknown:
        raise BacktestInputError(
            f"unknown backtest param(s) {', '.join(unknown)}; allowed: {', '.join(PARAMS)}"
        )
    backtest_id = params.get("backtest_id")
    if not isinstance(backtest_id, str) or not _BACKTEST_ID.fullmatch(backtest_id):
        raise BacktestInputError(f"backtest_id must match {BACKTEST_ID_PATTERN}, got {backtest_id!r}")
    rule_set, rules_text = candidate_rules(params.get("rules_file"), params.get("rules_json"))
    start = _datetime("start", params.get("start"))
    end = _datetime("end", params.get("end"))
    if end <= start:
        raise BacktestInputError(
            f"the range [{start.isoformat()}, {end.isoformat()}) is empty or reversed: end must be after start"
        )
    if end - start > MAX_RANGE:
        raise BacktestInputError(
            f"the range [{start.isoformat()}, {end.isoformat()}) is longer than {MAX_RANGE.days} days; "
            "split it into several backtests"
        )
    chunk = params.get("chunk_minutes")
    chunk = DEFAULT_CHUNK_MINUTES if chunk is None else chunk
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= MAX_CHUNK_MINUTES:
        raise BacktestInputError(
            f"chunk_minutes must be an integer from 1 to {MAX_CHUNK_MINUTES}, got {params.get('chunk_minutes')!r}"
        )
    return BacktestSpec(backtest_id, rule_set, rules_text, Window(start, end), timedelta(minutes=chunk))


def candidate_rules(rules_file: object, rules_json: object) -> tuple[rules.RuleSet, str]:
    """The candidate rule set from exactly one of a file under include/ or an inline JSON object."""
    if isinstance(rules_file, str) and not rules_file.strip():
        rules_file = None  # an emptied form field
    if rules_file is not None and rules_json is not None:
        raise BacktestInputError("give either rules_file or rules_json, not both")
    if rules_json is not None:
        if not isinstance(rules_json, Mapping):
            raise BacktestInputError(
                f"rules_json must be a JSON object with version, thresholds and rules, got {type(rules_json).__name__}"
            )
        rule_set = rules.parse_rules(rules_json, source="rules_json")
        return rule_set, json.dumps(rules_json, sort_keys=True, ensure_ascii=False, default=str)
    if rules_file is None:
        raise BacktestInputError(
            "give the candidate rules: rules_file (a rule file under include/, e.g. rules/rules.yaml) "
            "or rules_json (the rules as a JSON object)"
        )
    if not isinstance(rules_file, str):
        raise BacktestInputError(f"rules_file must be a path under include/, got {rules_file!r}")
    path = resolve_rules_file(rules_file)
    rule_set = rules.load_rules(path)
    return rule_set, path.read_text(encoding="utf-8")


def resolve_rules_file(name: str) -> Path:
    """``include/<name>``, refused unless it resolves (symlinks too) to a path inside include/."""
    root = paths.INCLUDE_DIR.resolve()
    path = (root / name).resolve()
    if root not in path.parents:
        raise BacktestInputError(
            f"rules_file must name a file inside include/ (e.g. rules/rules.yaml), got {name!r}"
        )
    return path


def _datetime(name: str, value: object) -> datetime:
    """An ISO 8601 datetime; a value without a UTC offset is taken as UTC."""
    parsed: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise BacktestInputError(
            f"{name} must be an ISO 8601 datetime such as 2026-11-20T12:00:00+00:00, got {value!r}"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One row of banking_backtest_metrics (without the backtest id)."""

    variant: str
    rule_id: str
    transactions: int
    hits: int
    review: int
    rejected: int
    rejected_amount: Decimal
    flagged: int  # rule hits for a rule, rejections overall
    true_positives: int  # flagged and injected fraud
    fraud_total: int
    precision: float | None
    recall: float | None


@dataclass
class _Tally:
    hits: int = 0
    review: int = 0
    rejected: int = 0
    rejected_cents: int = 0
    hit_fraud: int = 0  # hits that were fraud
    rejected_fraud: int = 0  # rejections that were fraud


@dataclass
class Scoreboard:
    """Counts per variant, overall and per rule, over the replayed transactions."""

    rule_ids: list[str]  # the candidate's enabled rules, in file order; others are added as seen
    transactions: int = 0
    fraud_total: int = 0
    changed: int = 0  # transactions whose candidate decision differs from the live one
    overall: dict[str, _Tally] = field(default_factory=lambda: {v: _Tally() for v in VARIANTS})
    by_rule: dict[str, dict[str, _Tally]] = field(default_factory=lambda: {v: {} for v in VARIANTS})

    def add(
        self, live: tuple[str, list[str]], candidate: tuple[str, list[str]], cents: int, fraud: bool
    ) -> None:
        """One transaction: its (decision, hit rule ids) live and with the candidate."""
        self.transactions += 1
        self.fraud_total += fraud
        self.changed += live[0] != candidate[0]
        for variant, (decision, hit_ids) in zip(VARIANTS, (live, candidate), strict=True):
            tallies = [self._rule(variant, r) for r in hit_ids]
            overall = self.overall[variant]
            overall.hits += bool(hit_ids)
            overall.rejected_fraud += fraud and decision == REJECTED
            for t in (overall, *tallies):
                t.review += decision == REVIEW
                if decision == REJECTED:
                    t.rejected += 1
                    t.rejected_cents += cents
            for t in tallies:
                t.hits += 1
                t.hit_fraud += fraud

    def _rule(self, variant: str, rule_id: str) -> _Tally:
        tally = self.by_rule[variant].get(rule_id)
        if tally is None:
            tally = self.by_rule[variant][rule_id] = _Tally()
            if rule_id not in self.rule_ids:
                self.rule_ids.append(rule_id)
        return tally

    def metrics(self) -> list[Metric]:
        """Overall first, then every rule either variant knows, for both variants."""
        out = []
        for variant in VARIANTS:
            o = self.overall[variant]
            out.append(self._metric(variant, OVERALL, o, flagged=o.rejected, true_positives=o.rejected_fraud))
            for rule_id in self.rule_ids:
                t = self.by_rule[variant].get(rule_id) or _Tally()
                out.append(self._metric(variant, rule_id, t, flagged=t.hits, true_positives=t.hit_fraud))
        return out

    def _metric(self, variant: str, rule_id: str, t: _Tally, flagged: int, true_positives: int) -> Metric:
        return Metric(
            variant=variant,
            rule_id=rule_id,
            transactions=self.transactions,
            hits=t.hits,
            review=t.review,
            rejected=t.rejected,
            rejected_amount=Decimal(t.rejected_cents).scaleb(-2),
            flagged=flagged,
            true_positives=true_positives,
            fraud_total=self.fraud_total,
            precision=true_positives / flagged if flagged else None,
            recall=true_positives / self.fraud_total if self.fraud_total else None,
        )


# --------------------------------------------------------------------------------------------
# The replay
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The loaded windows inside the range, in replay order."""

    windows: list[Window]
    rows: int  # as banking_batches counts them
    skipped_windows: int  # loaded windows that overlap the range only partly


@dataclass
class BacktestReport:
    backtest_id: str
    range: Window
    candidate_version: str
    live_versions: list[str]
    windows: int
    skipped_windows: int
    rows: int
    changed: int
    seconds: float
    metrics: list[Metric]

    def metric(self, variant: str, rule_id: str = OVERALL) -> Metric:
        return next(m for m in self.metrics if m.variant == variant and m.rule_id == rule_id)

    def as_xcom(self) -> dict[str, Any]:
        """A small summary for XCom: the overall figures of both variants."""

        def brief(m: Metric) -> dict[str, Any]:
            return {
                "rejected": m.rejected,
                "rejected_amount": str(m.rejected_amount),
                "true_positives": m.true_positives,
                "precision": m.precision,
                "recall": m.recall,
            }

        return {
            "backtest_id": self.backtest_id,
            "range": [self.range.start.isoformat(), self.range.end.isoformat()],
            "candidate_version": self.candidate_version,
            "live_versions": self.live_versions,
            "windows": self.windows,
            "rows": self.rows,
            "changed": self.changed,
            "fraud_total": self.metric(LIVE).fraud_total,
            LIVE: brief(self.metric(LIVE)),
            CANDIDATE: brief(self.metric(CANDIDATE)),
        }


def plan(conn: psycopg.Connection, spec: BacktestSpec) -> Plan:
    """The windows to replay; refuses a range without loaded transactions. Reads only."""
    bounds = {"start": spec.range.start, "end": spec.range.end}
    found = conn.execute(sql("backtest/windows"), bounds).fetchall()
    skipped = conn.execute(sql("backtest/partial_windows"), bounds).fetchone()[0]
    if not found:
        hint = (
            f"{skipped} loaded window(s) overlap it only partly; widen the range to cover them whole"
            if skipped
            else "load the windows first (a backfill of banking_transactions, see docs/backtests.md)"
        )
        raise BacktestInputError(f"no data in {spec.range}: no loaded window lies inside it; {hint}")
    rows = sum(n for _, _, n in found)
    if rows == 0:
        raise BacktestInputError(
            f"no data in {spec.range}: its {len(found)} loaded window(s) hold no transactions"
        )
    return Plan([Window(s, e) for s, e, _ in found], rows, skipped)


def run_backtest(conn: psycopg.Connection, spec: BacktestSpec, run_id: str | None = None) -> BacktestReport:
    """Replay the range with the candidate rules and store results and metrics (autocommit ``conn``)."""
    started = time.perf_counter()
    the_plan = plan(conn, spec)
    key = {"backtest_id": spec.backtest_id}
    if not conn.execute(sql("backtest/try_lock"), key).fetchone()[0]:
        raise BacktestBusy(f"backtest {spec.backtest_id!r} is being run by another session; try again later")
    try:
        log.info(
            "backtest %s: candidate rule set %s (%s) over %s: %d windows, %d rows, chunks of %d min%s",
            spec.backtest_id,
            spec.rule_set.version,
            spec.rule_set.source,
            spec.range,
            len(the_plan.windows),
            the_plan.rows,
            spec.chunk_minutes,
            f"; {the_plan.skipped_windows} window(s) overlap the range only partly and are skipped"
            if the_plan.skipped_windows
            else "",
        )
        with conn.transaction():
            for statement in sql_statements("backtest/start_run"):
                conn.execute(
                    statement,
                    {
                        **key,
                        "start": spec.range.start,
                        "end": spec.range.end,
                        "chunk_minutes": spec.chunk_minutes,
                        "candidate_version": spec.rule_set.version,
                        "candidate_source": spec.rule_set.source,
                        "candidate_rules": spec.rules_text,
                        "run_id": run_id,
                    },
                )
        try:
            board = Scoreboard([r.id for r in spec.rule_set.enabled_rules])
            live_versions = _replay(conn, spec, the_plan, board)
            metrics = board.metrics()
            with conn.transaction():
                for m in metrics:
                    conn.execute(sql("backtest/insert_metric"), {**key, **asdict(m)})
                conn.execute(
                    sql("backtest/finish_run"),
                    {
                        **key,
                        "live_versions": live_versions,
                        "windows": len(the_plan.windows),
                        "skipped_windows": the_plan.skipped_windows,
                        "rows": board.transactions,
                        "changed": board.changed,
                    },
                )
        except BaseException as exc:
            _mark_failed(conn, spec.backtest_id, exc)
            raise
    finally:
        _unlock(conn, key)
    return BacktestReport(
        backtest_id=spec.backtest_id,
        range=spec.range,
        candidate_version=spec.rule_set.version,
        live_versions=live_versions,
        windows=len(the_plan.windows),
        skipped_windows=the_plan.skipped_windows,
        rows=board.transactions,
        changed=board.changed,
        seconds=time.perf_counter() - started,
        metrics=metrics,
    )


def _replay(conn: psycopg.Connection, spec: BacktestSpec, the_plan: Plan, board: Scoreboard) -> list[str]:
    """Score the planned windows chunk by chunk, storing each chunk's results; returns the live versions."""
    by_chunk: dict[int, list[Window]] = {}
    for w in the_plan.windows:
        by_chunk.setdefault((w.start - spec.range.start) // spec.chunk, []).append(w)
    chunks = math.ceil((spec.range.end - spec.range.start) / spec.chunk)
    live_versions: set[str] = set()
    for index, windows in sorted(by_chunk.items()):
        t0 = time.perf_counter()
        chunk_start = spec.range.start + index * spec.chunk
        chunk = Window(chunk_start, min(chunk_start + spec.chunk, spec.range.end))
        stored = _read_chunk(conn, chunk, windows, spec.range.end)
        results: list[tuple] = []
        for w in windows:
            records = stored.get((w.start, w.end))
            if not records:
                continue
            scores = score_stored_window(conn, w, records, spec.rule_set)
            for i, r in enumerate(records):
                live_versions.add(r["rule_set_version"])
                hits = scores.hits(i)
                board.add(
                    (r["decision"], [h["rule"] for h in r["rule_hits"]]),
                    (scores.decision_name(i), [h.rule_id for h in hits]),
                    r["amount_cents"],
                    r["fraud_scenario"] is not None,
                )
                results.append(_result_row(spec.backtest_id, r, scores, i, hits))
        with conn.transaction(), conn.cursor() as cur, cur.copy(sql("backtest/copy_results")) as copy:
            for row in results:
                copy.write_row(row)
        log.info(
            "backtest %s: chunk %d/%d %s: %d windows, %d rows in %.2fs; %d of %d rows done (%.0f%%)",
            spec.backtest_id,
            index + 1,
            chunks,
            chunk,
            len(windows),
            len(results),
            time.perf_counter() - t0,
            board.transactions,
            the_plan.rows,
            100.0 * board.transactions / the_plan.rows,
        )
    return sorted(live_versions)


def _read_chunk(
    conn: psycopg.Connection, chunk: Window, windows: list[Window], range_end: datetime
) -> dict[tuple[datetime, datetime], list[dict[str, Any]]]:
    """The stored rows of the chunk's windows, grouped by window, each in (timestamp, uniq_id) order."""
    params = {
        "chunk_start": chunk.start,
        "chunk_end": chunk.end,
        "range_end": range_end,
        "rows_end": max(w.end for w in windows),
    }
    grouped: dict[tuple[datetime, datetime], list[dict[str, Any]]] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for r in cur.execute(sql("backtest/chunk_rows"), params):
            grouped.setdefault((r["window_start"], r["window_end"]), []).append(r)
    return grouped


def score_stored_window(
    conn: psycopg.Connection, window: Window, records: list[dict[str, Any]], rule_set: rules.RuleSet
) -> Scores:
    """Score a stored window's rows (in (timestamp, uniq_id) order) as the live score task scores a
    generated one: columns keyed like the history read before the window, then ``score_columns``."""
    accounts = IdIndex.of(sorted({r["account_id"] for r in records}))
    cards = IdIndex.of(sorted({r["card_ref"] for r in records}))
    rows = stored_columns(records, accounts, cards)
    since = window.start - rule_set.lookback
    account_ids = [r["account_id"] for r in records]
    past = read_history(conn, account_ids, accounts, cards, since, window.start, rows.countries)
    return score_columns(rows, past, rule_set)


def stored_columns(records: list[dict[str, Any]], accounts: IdIndex, cards: IdIndex) -> Columns:
    """The engine's columns of stored rows; codes outside the model's lists get names of their own."""
    countries = _Codes(COUNTRY_CODES)
    trans_types = _Codes(TRANS_TYPES)
    categories = _Codes(MERCHANT_CATEGORIES)
    n = len(records)

    def ids(name: str) -> np.ndarray:
        return np.array([r[name].bytes for r in records], dtype="S16")

    def column(name: str, dtype: Any, codes: _Codes | None = None) -> np.ndarray:
        values = (r[name] for r in records)
        return np.fromiter(values if codes is None else map(codes.index, values), dtype, n)

    return Columns(
        t_us=np.fromiter((micros(r["timestamp"]) for r in records), np.int64, n),
        account=accounts.positions_of(ids("account_id")),
        card=cards.positions_of(ids("card_ref")),
        amount_cents=column("amount_cents", np.int64),
        country=column("country", np.int32, countries),
        home_country=column("home_country", np.int32, countries),
        trans_type=column("trans_type", np.int16, trans_types),
        card_present=np.fromiter((r["card_presense"] != CARD_NOT_PRESENT for r in records), bool, n),
        category=column("merchant_category", np.int16, categories),
        blacklisted=column("account_blacklisted", bool),
        countries=countries.names(),
        trans_type_names=trans_types.names(),
        category_names=categories.names(),
    )


class _Codes(dict[str, int]):
    """Positions of names in a list that starts with ``known``; a new name is appended."""

    def __init__(self, known: tuple[str, ...]):
        super().__init__((name, i) for i, name in enumerate(known))

    def index(self, name: str) -> int:
        code = self.get(name)
        if code is None:
            code = self[name] = len(self)
        return code

    def names(self) -> tuple[str, ...]:
        return tuple(self)


def _result_row(backtest_id: str, r: dict[str, Any], scores: Scores, i: int, hits: list[RuleHit]) -> tuple:
    """A row of backtest/copy_results.sql: the stored row with the candidate's verdict (row i of scores)."""
    hit_json = [{"rule": h.rule_id, "score": h.score, "explanation": h.explanation} for h in hits]
    return (
        backtest_id,
        r["timestamp"],
        r["uniq_id"],
        r["window_start"],
        r["window_end"],
        Decimal(r["amount_cents"]).scaleb(-2),
        r["fraud_scenario"],
        r["decision"],
        r["risk_score"],
        scores.decision_name(i),
        int(scores.risk_score[i]),
        scores.rules_triggered(i),
        scores.rules_explanation(i),
        json.dumps(hit_json, ensure_ascii=False, separators=(",", ":")),
    )


def _mark_failed(conn: psycopg.Connection, backtest_id: str, exc: BaseException) -> None:
    try:
        with conn.transaction():
            conn.execute(
                sql("backtest/fail_run"),
                {"backtest_id": backtest_id, "error": f"{type(exc).__name__}: {exc}"[:2000]},
            )
    except psycopg.Error as error:  # the connection may be what failed
        log.warning("backtest %s: could not record the failure: %s", backtest_id, error)


def _unlock(conn: psycopg.Connection, key: dict[str, str]) -> None:
    try:
        conn.execute(sql("backtest/unlock"), key)
    except psycopg.Error:
        pass  # closing the connection releases the lock


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def metrics_table(metrics: Iterable[Metric]) -> str:
    """Live next to candidate, one line per rule, for the task log."""

    def ratio(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    by_key = {(m.variant, m.rule_id): m for m in metrics}
    rule_ids = list(dict.fromkeys(rule_id for _, rule_id in by_key))
    head = f"{'hits':>7} {'rejected':>8} {'rejected USD':>14} {'TP':>5} {'prec':>6} {'recall':>6}"
    lines = [f"{'rule':<24} | live: {head} | candidate: {head}"]
    for rule_id in rule_ids:
        cells = []
        for variant in VARIANTS:
            m = by_key[(variant, rule_id)]
            cells.append(
                f"{m.hits:>7} {m.rejected:>8} {m.rejected_amount:>14,.2f} {m.true_positives:>5} "
                f"{ratio(m.precision):>6} {ratio(m.recall):>6}"
            )
        lines.append(f"{rule_id:<24} |       {cells[0]} |            {cells[1]}")
    return "\n".join(lines)


def run_on(conn: psycopg.Connection, params: Mapping[str, Any], run_id: str | None = None) -> BacktestReport:
    """Validate ``params``, run the backtest on ``conn`` and log its metrics."""
    return _logged(run_backtest(conn, parse_spec(params), run_id))


def run(params: Mapping[str, Any], run_id: str | None, conn_id: str = db.DEFAULT_CONN_ID) -> dict[str, Any]:
    """The DAG task: bad params fail before the database is touched; returns a small XCom summary."""
    spec = parse_spec(params)
    with db.hook_connection(conn_id) as conn:
        return _logged(run_backtest(conn, spec, run_id)).as_xcom()


def _logged(report: BacktestReport) -> BacktestReport:
    live, candidate = report.metric(LIVE), report.metric(CANDIDATE)
    log.info(
        "backtest %s done in %.2fs: %d windows, %d rows, %d decisions changed; live rule set(s) %s, "
        "candidate %s; injected fraud %d; rejected live %d, candidate %d\n%s",
        report.backtest_id,
        report.seconds,
        report.windows,
        report.rows,
        report.changed,
        ", ".join(report.live_versions),
        report.candidate_version,
        live.fraud_total,
        live.rejected,
        candidate.rejected,
        metrics_table(report.metrics),
    )
    return report
