"""The vectorised rules engine against the per-row reference engine, on a realistic stream.

``python scripts/bench_scoring.py [--rows 100000] [--accounts 5000] [--history-days 7]`` scores one
batch after ``--history-days`` of history (100 rows a minute) three ways: ``score_columns`` (what the
pipeline runs, best of ``--repeat``), the test builders' ``score_batch`` (objects in and out through
the same engine) and the per-row reference (tests/unit/reference_rules). Every figure is printed as
one ``name: value`` line; the run fails unless the three give identical results.
"""

from __future__ import annotations

import argparse
import copy
import gc
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "plugins"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
from tests import builders  # noqa: E402
from tests.builders import History, PastTransaction, Transaction, scored  # noqa: E402
from tests.unit import reference_rules  # noqa: E402

from banking import model  # noqa: E402
from banking.countries import COUNTRIES  # noqa: E402
from banking.model import CARD_NOT_PRESENT, CARD_PRESENT, MERCHANT_CATEGORIES, TRANS_TYPES  # noqa: E402
from banking.rules import engine  # noqa: E402
from banking.rules.columns import Columns, HistoryColumns  # noqa: E402
from banking.rules.config import load_rules  # noqa: E402


def emit(name: str, value: float | int | str) -> None:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    print(f"{name}: {text}", flush=True)


def realistic(rows: int, accounts: int, history_days: float, seed: int = 1) -> tuple[Any, Any]:
    """A batch of ``rows`` at 100 rows/minute after ``history_days`` of history at the same rate,
    as columns (what the pipeline passes) and as objects (what the reference engine needs)."""
    rng = np.random.default_rng(seed)
    codes = tuple(COUNTRIES)
    weights = np.array([c.weight for c in COUNTRIES.values()])
    home = rng.choice(len(codes), accounts, p=weights / weights.sum()).astype(np.int32)
    blacklisted = rng.random(accounts) < 0.01
    cards_of = rng.integers(1, 3, accounts)  # card k of account a has key 2a + k
    activity = rng.pareto(2.0, accounts) + 0.2  # some accounts are far busier than others
    activity /= activity.sum()
    start_us = int(model.micros(datetime(2026, 11, 2, tzinfo=timezone.utc)))
    minute = 60_000_000

    def draw(n: int, t0: int, t1: int) -> dict[str, np.ndarray]:
        account = rng.choice(accounts, n, p=activity)
        foreign = rng.random(n) < 0.05
        return {
            "t_us": np.sort(rng.integers(t0, t1, n)),
            "account": account.astype(np.int64),
            "card": (2 * account + rng.integers(0, cards_of[account])).astype(np.int64),
            "amount_cents": (
                np.round(rng.lognormal(8.5, 1.3, n)) * np.where(rng.random(n) < 0.002, 40, 1)
            ).astype(np.int64),
            "country": np.where(foreign, rng.integers(0, len(codes), n), home[account]).astype(np.int32),
        }

    h = draw(int(history_days * 1440 * 100), start_us - int(history_days * 86_400_000_000), start_us)
    b = draw(rows, start_us, start_us + rows // 100 * minute)
    n = rows
    columns = Columns(
        **b,
        home_country=home[b["account"]],
        trans_type=rng.choice(3, n, p=[0.8, 0.15, 0.05]).astype(np.int8),
        card_present=rng.random(n) < 0.7,
        category=rng.integers(0, len(MERCHANT_CATEGORIES), n).astype(np.int8),
        blacklisted=blacklisted[b["account"]],
        countries=codes,
    )
    since, until = (
        model.EPOCH + timedelta(microseconds=int(h["t_us"][0])),
        model.EPOCH + timedelta(microseconds=start_us),
    )
    history_columns = HistoryColumns(**h, since=since, until=until)

    def when(t: int) -> datetime:
        return model.EPOCH + timedelta(microseconds=t)

    account_ids = [UUID(int=a + 1) for a in range(accounts)]
    card_ids = [UUID(int=(1 << 64) + c) for c in range(2 * accounts)]
    by_account: dict[UUID, list[PastTransaction]] = {}
    for t, a, c, cents, place in zip(*(h[k].tolist() for k in h), strict=True):
        by_account.setdefault(account_ids[a], []).append(
            PastTransaction(when(t), account_ids[a], card_ids[c], cents, codes[place])
        )
    txs = [
        Transaction(
            uniq_id=UUID(int=i),
            timestamp=when(t),
            window_start=when(start_us),
            window_end=when(start_us + rows // 100 * minute),
            trans_type=TRANS_TYPES[tt],
            channel="pos",
            amount_cents=cents,
            currency="USD",
            amount_crr_cents=cents,
            account_id=account_ids[a],
            account_holder_name="x",
            account_blacklisted=bl,
            home_country=codes[hc],
            card_ref=card_ids[c],
            card_id="4111",
            card_type="visa",
            card_presense=CARD_PRESENT if cp else CARD_NOT_PRESENT,
            merchant_id=UUID(int=1),
            merchant_name="m",
            merchant_category=MERCHANT_CATEGORIES[cat],
            country=codes[place],
            city="c",
        )
        for i, (t, a, c, cents, place, hc, tt, cp, cat, bl) in enumerate(
            zip(
                *(
                    getattr(columns, k).tolist()
                    for k in "t_us account card amount_cents country home_country trans_type card_present "
                    "category blacklisted".split()
                ),
                strict=True,
            )
        )
    ]
    return (columns, history_columns), (txs, History(since=since, until=until, by_account=by_account))


def bench(rows: int, accounts: int, history_days: float, repeat: int) -> None:
    """Time the three engines on one batch and check that they agree, row by row."""
    rule_set = load_rules()
    (columns, history_columns), (txs, history) = realistic(rows, accounts, history_days)
    emit("scoring_rows", rows)
    emit("scoring_accounts", accounts)
    emit("scoring_history_rows", len(history_columns))
    compat = copy.deepcopy(txs)
    gc.collect()
    gc.freeze()  # keep the collector off the million setup objects: it would bill their scans to whoever runs
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        scores = engine.score_columns(columns, history_columns, rule_set)
        runs.append(time.perf_counter() - t0)
    best = min(runs)
    t0 = time.perf_counter()
    summary = builders.score_batch(compat, history, rule_set)
    objects = time.perf_counter() - t0
    t0 = time.perf_counter()
    expected = reference_rules.score_batch(txs, history, rule_set)
    oracle = time.perf_counter() - t0
    if not summary == expected == scores.summary:
        raise AssertionError(f"the engines disagree: {summary} != {expected}")
    if any(scored(a) != scored(b) for a, b in zip(compat, txs, strict=True)) or any(
        scores.hits(i) != tx.rule_hits or scores.rules_explanation(i) != tx.rules_explanation
        for i, tx in enumerate(txs)  # already in processing order
    ):
        raise AssertionError("the engines disagree on a row")
    emit("score_columns_ms", best * 1e3)
    emit("score_columns_us_per_row", best / rows * 1e6)
    emit("score_columns_first_call_ms", runs[0] * 1e3)
    emit("score_batch_objects_ms", objects * 1e3)
    emit("reference_per_row_ms", oracle * 1e3)
    emit("speedup_score_columns", oracle / best)
    emit("speedup_score_batch_objects", oracle / objects)
    emit("identical_results", "yes")
    for rule_id, hits in sorted(expected.hits_by_rule.items()):
        emit(f"hits[{rule_id}]", hits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument("--history-days", type=float, default=7.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    bench(args.rows, args.accounts, args.history_days, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
