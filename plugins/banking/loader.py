"""Load one scored window into ``banking_data``: one COPY inside one transaction that replaces it.

Inside the transaction: lock the window, check the population is seeded, delete what an earlier
run of the same window left, COPY the rows, write the audit row, drop the staged payload. Either
all of it commits or none of it does, so a rerun leaves exactly the same rows and one audit row.

The rows travel as COPY text: :func:`encode_rows` makes the bytes once, and both the direct path
(:func:`replace_window`) and the staged path (:func:`stage` then :func:`load_staged`, for tasks on
different workers) send those bytes unchanged.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from banking.db import sql, sql_statements
from banking.model import APPROVED, REJECTED, REVIEW, Transaction, Window

log = logging.getLogger(__name__)

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class LoadError(RuntimeError):
    """A window that cannot be loaded as it is; nothing of it was written."""


@dataclass(slots=True)
class BatchSummary:
    """What a scored window holds: the audit row's figures, and the per-rule hits for the logs."""

    rows: int
    approved: int
    review: int
    rejected: int
    injected_fraud: int
    amount_cents: int
    rule_set_version: str
    settings_digest: str
    population_version: str
    hits_by_rule: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(
        cls, rows: list[Transaction], rule_set_version: str, settings_digest: str, population_version: str
    ) -> BatchSummary:
        decisions = Counter(t.decision for t in rows)
        if None in decisions:
            raise LoadError(f"{decisions[None]} transaction(s) have no decision: score the batch first")
        hits = Counter(h.rule_id for t in rows for h in t.rule_hits)
        return cls(
            rows=len(rows),
            approved=decisions[APPROVED],
            review=decisions[REVIEW],
            rejected=decisions[REJECTED],
            injected_fraud=sum(1 for t in rows if t.fraud_scenario),
            amount_cents=sum(t.amount_cents for t in rows),
            rule_set_version=rule_set_version,
            settings_digest=settings_digest,
            population_version=population_version,
            hits_by_rule=dict(sorted(hits.items())),
        )

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LoadResult:
    window: Window
    deleted: int  # rows an earlier run of the same window had left
    inserted: int
    partitions_created: int
    seconds: float


def encode_rows(rows: Iterable[Transaction]) -> bytes:
    """The rows in PostgreSQL COPY text format, in the column order of ``load/copy_banking_data.sql``."""
    return b"".join(encode_chunks(rows))


def encode_chunks(rows: Iterable[Transaction], chunk_rows: int = 5000) -> Iterator[bytes]:
    """:func:`encode_rows` in chunks of ``chunk_rows`` rows, so that a large window is never held twice.

    The columns that depend only on the card (and its account), the merchant or the batch are
    formatted once per card, merchant or batch and reused: most of a row is such a fragment.
    """
    lines: list[str] = []
    batch_key, batch_part = None, ""
    for t in rows:
        if t.decision is None or t.rule_set_version is None:
            raise LoadError(f"transaction {t.uniq_id} has not been scored")
        key = (t.rule_set_version, t.window_start, t.window_end)
        if key != batch_key:
            batch_key = key
            batch_part = (
                f"{_text(t.rule_set_version)}\t{t.window_start.isoformat()}\t{t.window_end.isoformat()}"
            )
        card_part = _CARD_PARTS.get(t.card_ref)
        if card_part is None:
            card_part = _remember(_CARD_PARTS, t.card_ref, _card_part(t))
        merchant_part = _MERCHANT_PARTS.get(t.merchant_id)
        if merchant_part is None:
            merchant_part = _remember(_MERCHANT_PARTS, t.merchant_id, _merchant_part(t))
        if t.rule_hits:
            hits = _text(
                json.dumps(
                    [
                        {"rule": h.rule_id, "score": h.score, "explanation": h.explanation}
                        for h in t.rule_hits
                    ],
                    ensure_ascii=False,
                    separators=(",", ":"),
                )
            )
        else:
            hits = "[]"
        lines.append(
            f"{t.timestamp.isoformat()}\t{t.uniq_id}\t{t.trans_type}\t{_money(t.amount_cents)}\t"
            f"{_money(t.amount_crr_cents)}\t{t.card_presense}\t{t.channel}\t{_text(t.rules_triggered)}\t"
            f"{_text(t.rules_explanation)}\t{t.decision}\t{t.risk_score}\t{hits}\t"
            f"{t.fraud_scenario or _NULL}\t{batch_part}\t{card_part}\t{merchant_part}\n"
        )
        if len(lines) >= chunk_rows:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


_NULL = "\\N"
_CARD_PARTS: dict[UUID, str] = {}
_MERCHANT_PARTS: dict[UUID, str] = {}
_MAX_REMEMBERED = 1_000_000


def _remember(cache: dict[UUID, str], key: UUID, value: str) -> str:
    if len(cache) >= _MAX_REMEMBERED:
        cache.clear()
    cache[key] = value
    return value


def _card_part(t: Transaction) -> str:
    """account_holder_name .. card_type: the columns that only depend on the card and its account."""
    return (
        f"{_text(t.account_holder_name)}\t{t.currency}\t{t.home_country}\t{t.account_id}\t"
        f"{'t' if t.account_blacklisted else 'f'}\t{t.card_ref}\t{t.card_id}\t{t.card_type}"
    )


def _merchant_part(t: Transaction) -> str:
    """merchant_id .. city: the columns that only depend on the merchant."""
    return f"{t.merchant_id}\t{_text(t.merchant_name)}\t{t.merchant_category}\t{t.country}\t{_text(t.city)}"


def ensure_partitions(conn: psycopg.Connection, window: Window) -> int:
    """Create the window's daily partitions, in a short transaction of its own; returns how many."""
    with conn.transaction():
        return conn.execute(sql("load/ensure_partitions"), _bounds(window)).fetchone()[0]


def replace_window(
    conn: psycopg.Connection,
    window: Window,
    payload: bytes | Iterable[bytes],
    summary: BatchSummary,
    run_id: str | None = None,
) -> LoadResult:
    """Replace the rows of ``window`` with ``payload`` and write its audit row, atomically.

    ``payload`` is COPY text: whole, or as chunks (see :func:`encode_chunks`), which the server
    ingests while the next chunk is being encoded.
    """
    started = time.perf_counter()
    created = ensure_partitions(conn, window)
    with conn.transaction():
        deleted, inserted = _replace(conn, window, payload, summary, run_id)
    return LoadResult(window, deleted, inserted, created, time.perf_counter() - started)


def stage(conn: psycopg.Connection, window: Window, payload: bytes, summary: BatchSummary) -> int:
    """Keep a scored window in ``banking_staging`` for the load task; returns the compressed size."""
    packed = zlib.compress(payload, 1)
    with conn.transaction():
        conn.execute(
            sql("load/stage_put"),
            {**_bounds(window), "rows": summary.rows, "summary": Jsonb(summary.as_dict()), "payload": packed},
        )
    return len(packed)


def load_staged(conn: psycopg.Connection, window: Window, run_id: str | None = None) -> LoadResult:
    """Load the staged payload of ``window`` (see :func:`stage`) and remove it, in one transaction.

    When nothing is staged because this same run's load already committed (a worker lost after
    COMMIT, before Airflow heard of it, then retried), the window is loaded: report it, change nothing.
    """
    started = time.perf_counter()
    created = ensure_partitions(conn, window)
    with conn.transaction():
        conn.execute(sql("load/lock_window"), _bounds(window))
        staged = conn.execute(sql("load/stage_get"), _bounds(window)).fetchone()
        if staged is None:
            done = None
            if run_id is not None:
                done = conn.execute(
                    sql("load/loaded_by_run"), {**_bounds(window), "run_id": run_id}
                ).fetchone()
            if done is not None:
                log.info("window %s was already loaded by run %s: nothing to do", window, run_id)
                return LoadResult(window, 0, done[0], created, time.perf_counter() - started)
            raise LoadError(
                f"nothing is staged for window {window}: the score task of this run must succeed first "
                "(clear it and its downstream tasks to run them again)"
            )
        _, summary, packed = staged
        deleted, inserted = _replace(conn, window, zlib.decompress(packed), BatchSummary(**summary), run_id)
        conn.execute(sql("load/stage_delete"), _bounds(window))
    return LoadResult(window, deleted, inserted, created, time.perf_counter() - started)


def _replace(
    conn: psycopg.Connection,
    window: Window,
    payload: bytes | Iterable[bytes],
    summary: BatchSummary,
    run_id: str | None,
) -> tuple[int, int]:
    bounds = _bounds(window)
    conn.execute(sql("load/lock_window"), bounds)
    if not conn.execute(sql("load/population_known"), {"version": summary.population_version}).fetchone()[0]:
        raise LoadError(
            f"population {summary.population_version} is not in banking_population: run the banking_schema "
            "DAG with the same seed and population settings as banking_transactions"
        )
    with conn.cursor() as cur:
        cur.execute(sql("load/delete_window"), bounds)
        deleted = cur.rowcount
        with cur.copy(sql("load/copy_banking_data")) as copy:
            for chunk in [payload] if isinstance(payload, bytes) else payload:
                copy.write(chunk)
        inserted = max(cur.rowcount, 0)
    if inserted != summary.rows:
        raise LoadError(f"window {window}: copied {inserted} rows but the batch has {summary.rows}")
    for statement in sql_statements("load/refresh_rollups"):
        conn.execute(statement, bounds)
    conn.execute(
        sql("load/upsert_batch"),
        {
            **bounds,
            **{k: v for k, v in summary.as_dict().items() if k not in ("hits_by_rule", "amount_cents")},
            "amount": Decimal(summary.amount_cents).scaleb(-2),
            "run_id": run_id,
        },
    )
    return deleted, inserted


def _bounds(window: Window) -> dict:
    return {"start": window.start, "end": window.end}


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _text(value: str) -> str:
    return value.translate(_ESCAPES)
