"""The vectorised engine (banking.rules.engine) against today's per-row engine (reference_rules).

Randomised batches with small account/card pools (windows overlap heavily), equal timestamps,
history rows exactly at window edges and at batch timestamps, foreign and unknown countries,
DST changes and random rule sets must give identical hits, explanations, scores, decisions and
summaries. ``scripts/bench_scoring.py`` times both engines on ~100k rows.
"""

from __future__ import annotations

import copy
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import numpy as np
import pytest

from banking.countries import COUNTRIES, Country
from banking.model import (
    CARD_NOT_PRESENT,
    CARD_PRESENT,
    DECISIONS,
    MERCHANT_CATEGORIES,
    NO_RULES_TRIGGERED,
    TRANS_TYPES,
    Window,
)
from banking.rules import engine
from banking.rules.columns import HistoryColumns
from banking.rules.config import RULE_TYPES, RuleConfigError, load_rules, parse_rules
from banking.rules.rule_set import RuleSet
from tests import builders
from tests.builders import History, PastTransaction, Transaction, scored
from tests.unit import reference_rules

# Instants near DST changes: US starts 2026-03-08 07:00Z, EU 2026-03-29 01:00Z, AU ends
# 2026-04-04 16:00Z, EU ends 2026-10-25 01:00Z, US ends 2026-11-01 06:00Z; and a plain day.
ORIGINS = [
    datetime(2026, 3, 8, 6, 40, tzinfo=timezone.utc),
    datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc),
    datetime(2026, 4, 4, 15, 45, tzinfo=timezone.utc),
    datetime(2026, 10, 25, 0, 50, tzinfo=timezone.utc),
    datetime(2026, 11, 1, 5, 30, tzinfo=timezone.utc),
    datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc),
]
HOMES = ["US", "GB", "DE", "AU", "IN", "BR", "ZZ"]  # ZZ: unknown, scored in UTC
ABROAD = ["US", "FR", "BR", "IN", "XK", "ZZ"]
# ---------------------------------------------------------------------------------------------
# Random batches and rule sets
# ---------------------------------------------------------------------------------------------


def random_batch(
    seed: int, size: int = 120, accounts: int = 6
) -> tuple[list[Transaction], History, datetime]:
    """A dense batch of up to ``size`` rows: few accounts and cards, clustered and equal timestamps."""
    rng = random.Random(seed)
    origin = rng.choice(ORIGINS)
    n_accounts = rng.randint(1, accounts)
    accounts = [UUID(int=1000 * seed + a) for a in range(n_accounts)]
    homes = {a: rng.choice(HOMES) for a in accounts}
    cards = {a: [UUID(int=a.int * 10 + c) for c in range(rng.randint(1, 3))] for a in accounts}
    shared = UUID(int=999_999)  # a card used by several accounts (its history is read through one)
    span = rng.choice([60, 600, 3600, 6 * 3600])  # seconds the batch covers
    # Few distinct instants, so that many rows share a timestamp; some at whole minutes.
    n_instants = rng.randint(3, max(40, size // 3))
    instants = sorted({origin + timedelta(seconds=rng.randrange(span)) for _ in range(n_instants)})
    instants += [origin + timedelta(minutes=m) for m in range(0, span // 60 + 1, 10)]

    def amount() -> int:
        kind = rng.random()
        if kind < 0.05:
            return rng.choice([0, -rng.randrange(1, 50_000)])
        if kind < 0.15:
            return rng.randrange(100_000, 1_500_000)
        if kind < 0.5:  # round amounts: amount == multiplier * mean happens
            return rng.choice([100, 150, 200, 300, 330, 400, 800, 1_600])
        return rng.choice([2_500, 10_000, 40_000, 60_000, 99_999, rng.randrange(1, 90_000)])

    def country(home: str) -> str:
        return home if rng.random() < 0.7 else rng.choice(ABROAD)

    txs = []
    for i in range(rng.randint(1, size)):
        account = rng.choice(accounts)
        txs.append(
            Transaction(
                uniq_id=UUID(int=rng.randrange(1 << 20) if rng.random() < 0.9 else i),
                timestamp=rng.choice(instants),
                window_start=origin,
                window_end=origin + timedelta(seconds=span),
                trans_type=rng.choice([*TRANS_TYPES, TRANS_TYPES[0], "refund"] if i % 17 else TRANS_TYPES),
                channel="pos",
                amount_cents=amount(),
                currency="USD",
                amount_crr_cents=0,
                account_id=account,
                account_holder_name="x",
                account_blacklisted=rng.random() < 0.05,
                home_country=homes[account] if rng.random() < 0.95 else rng.choice(HOMES),
                card_ref=shared if rng.random() < 0.05 else rng.choice(cards[account]),
                card_id="4111",
                card_type="visa",
                card_presense=rng.choice([CARD_PRESENT, CARD_NOT_PRESENT]),
                merchant_id=UUID(int=1),
                merchant_name="m",
                merchant_category=rng.choice([*MERCHANT_CATEGORIES, "Casino"]),
                country=country(homes[account]),
                city="c",
            )
        )
    # History: spread over 8 days before the origin, plus rows exactly at window edges (t - W for
    # the spans the rule sets use) and at batch timestamps (seen before the batch row at t).
    edges = [timedelta(minutes=m) for m in (1, 5, 10, 60)] + [timedelta(days=d) for d in (1, 2, 7)]
    by_account: dict[UUID, list[PastTransaction]] = {}
    for account in accounts:
        rows = []
        for _ in range(rng.randint(0, 30 * size // 120)):
            r = rng.random()
            if r < 0.4:
                at = origin - timedelta(seconds=rng.randrange(1, 8 * 86400))
            elif r < 0.7:
                at = (
                    rng.choice(instants)
                    - rng.choice(edges)
                    + rng.choice([timedelta(0), timedelta(microseconds=1)])
                )
            elif r < 0.85:
                at = rng.choice(instants)
            else:
                at = origin - timedelta(seconds=rng.randrange(1, 3600))
            card = shared if rng.random() < 0.1 else rng.choice(cards[account])
            rows.append(PastTransaction(at, account, card, amount(), country(homes[account])))
        rows.sort(key=lambda p: p.timestamp)
        if rows:
            by_account[account] = rows
    if rng.random() < 0.2:  # history of an account without batch rows
        by_account[UUID(int=7)] = [
            PastTransaction(origin - timedelta(hours=1), UUID(int=7), shared, 500, "US")
        ]
    return txs, History(since=origin - timedelta(days=8), until=origin, by_account=by_account), origin


def random_rule_set(seed: int) -> RuleSet:
    rng = random.Random(seed * 7919 + 1)

    def maybe(value: Any, p: float = 0.5) -> Any:
        return value if rng.random() < p else None

    makers = {
        "high_value": lambda: {"min_amount": rng.choice([1, 250, 999.99, 5000])},
        "blacklisted_account": lambda: {},
        "velocity": lambda: {
            "key": rng.choice(["card", "account"]),
            "window_minutes": rng.choice([1, 5, 10, 60, 90, 1440]),
            **rng.choice(
                [
                    {"max_count": rng.randint(1, 4)},
                    {"max_amount": rng.choice([100, 600.5, 2000])},
                    {"max_count": rng.randint(1, 5), "max_amount": rng.choice([50, 1000])},
                ]
            ),
        },
        "amount_spike": lambda: {
            "multiplier": rng.choice([1.5, 2, 3.3, 8]),
            "lookback_days": rng.choice([1, 2, 7]),
            "min_history": rng.randint(1, 5),
            **({"min_amount": rng.choice([0, 10, 400])} if rng.random() < 0.7 else {}),
        },
        "new_country": lambda: {
            "lookback_days": rng.choice([1, 2, 7]),
            **({"min_history": rng.randint(0, 4)} if rng.random() < 0.8 else {}),
        },
        "cnp_high_risk_category": lambda: {
            "categories": rng.sample(MERCHANT_CATEGORIES, rng.randint(1, 4)),
        },
        "odd_hours": lambda: {
            **dict(zip(("start_hour", "end_hour"), rng.sample(range(24), 2), strict=True)),
            **({"min_amount": rng.choice([0, 100])} if rng.random() < 0.5 else {}),
        },
    }
    chosen = [t for t in makers if rng.random() < 0.6] or ["velocity"]
    chosen += rng.sample(list(makers), rng.randint(0, 3))  # some types twice
    rule_dicts = []
    for i, rule_type in enumerate(chosen):
        item: dict[str, Any] = {
            "id": f"r{i}_{rule_type}",
            "type": rule_type,
            "description": rule_type,
            "score": rng.choice([0, 10, 15, 30, 45, 60, 70, 100]),
            "params": makers[rule_type](),
        }
        if rng.random() < 0.25:
            item["trans_types"] = rng.sample(TRANS_TYPES, rng.randint(1, 2))
        if rng.random() < 0.15:
            item["enabled"] = False
        rule_dicts.append(item)
    reject = rng.choice([40, 60, 100])
    thresholds = {"reject": reject, **({"review": rng.randint(1, reject - 1)} if rng.random() < 0.6 else {})}
    return parse_rules({"version": f"eq-{seed}", "thresholds": thresholds, "rules": rule_dicts})


def assert_same(txs: list[Transaction], history: History, rule_set: RuleSet) -> engine.ScoreSummary:
    """Score with both engines; assert equal fields on every row and equal summaries."""
    expected_rows = copy.deepcopy(txs)
    expected = reference_rules.score_batch(expected_rows, history, rule_set)
    actual = builders.score_batch(txs, history, rule_set)
    assert actual == expected
    for want, got in zip(expected_rows, txs, strict=True):
        assert scored(got) == scored(want), (got.timestamp, got.uniq_id)
    return actual


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(300))
def test_random_batches_score_like_the_reference(seed: int) -> None:
    txs, history, _ = random_batch(seed)
    assert_same(txs, history, random_rule_set(seed))


@pytest.mark.parametrize("seed", range(20))
def test_larger_random_batches_score_like_the_reference(seed: int) -> None:
    txs, history, _ = random_batch(2000 + seed, size=3000, accounts=40)
    assert_same(txs, history, random_rule_set(2000 + seed))


@pytest.mark.parametrize("seed", range(20))
def test_random_batches_with_the_default_rules(seed: int) -> None:
    txs, history, _ = random_batch(1000 + seed)
    assert_same(txs, history, load_rules())


def test_the_random_batches_exercise_every_rule() -> None:
    hits: dict[str, int] = {}
    for seed in range(300):
        txs, history, _ = random_batch(seed)
        rule_set = random_rule_set(seed)
        summary = builders.score_batch(txs, history, rule_set)
        for rule_id, n in summary.hits_by_rule.items():
            rule_type = rule_set.rule(rule_id).type
            hits[rule_type] = hits.get(rule_type, 0) + n
    assert set(hits) == set(RULE_TYPES) and min(hits.values()) >= 20, hits


def test_dst_hours_are_local_like_zoneinfo() -> None:
    """24 one-hour odd_hours rules: every row hits exactly its local hour's rule, DST or not."""
    one_hour = [
        {
            "id": f"h{h}",
            "type": "odd_hours",
            "description": "d",
            "score": 1,
            "params": {"start_hour": h, "end_hour": (h + 1) % 24},
        }
        for h in range(24)
    ]
    rule_set = parse_rules({"thresholds": {"reject": 60}, "rules": one_hour})
    template = random_batch(5)[0][0]
    rows = [
        replace(
            template, uniq_id=UUID(int=i), timestamp=origin + timedelta(minutes=minute), home_country=home
        )
        for i, (origin, minute, home) in enumerate(
            (o, m, h) for o in ORIGINS for m in range(0, 240, 7) for h in HOMES
        )
    ]
    assert_same(rows, History(since=ORIGINS[0], until=ORIGINS[0]), rule_set)
    assert all(len(tx.rule_hits) == 1 for tx in rows)


def test_utc_offset_change_inside_a_utc_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lord Howe Island shifts by 30 minutes at 15:00/15:30 UTC: the hour's offset is not constant."""
    monkeypatch.setitem(COUNTRIES, "LH", Country("LH", "AUD", 1.52, "Australia/Lord_Howe", "en_AU", 0.0))
    rule_set = parse_rules(
        {
            "thresholds": {"reject": 60},
            "rules": [
                {
                    "id": "a",
                    "type": "odd_hours",
                    "description": "d",
                    "score": 1,
                    "params": {"start_hour": 2, "end_hour": 3},
                },
                {
                    "id": "b",
                    "type": "odd_hours",
                    "description": "d",
                    "score": 1,
                    "params": {"start_hour": 1, "end_hour": 2},
                },
            ],
        }
    )
    template = random_batch(5)[0][0]
    changes = [
        datetime(2026, 4, 4, 14, 0, tzinfo=timezone.utc),
        datetime(2026, 10, 3, 14, 0, tzinfo=timezone.utc),
    ]
    rows = [
        replace(template, uniq_id=UUID(int=i), timestamp=start + timedelta(minutes=m), home_country="LH")
        for i, (start, m) in enumerate((s, m) for s in changes for m in range(0, 180, 3))
    ]
    assert_same(rows, History(since=changes[0], until=changes[0]), rule_set)
    assert sum(bool(tx.rule_hits) for tx in rows) > 20


@pytest.mark.parametrize("multiplier", [1.1, 1.5, 2, 3.3, 8, 10**20])
def test_amount_spike_at_the_exact_limit(multiplier: float) -> None:
    """amount * n == multiplier * total does not fire, one cent more does (with Python's float
    rounding); products beyond float64's exact integers too."""
    template = random_batch(5)[0][0]
    at = ORIGINS[-1]
    cases = [
        (n, mean, int(multiplier * mean) + delta if multiplier < 1e6 else 1 << 60)
        for n in (1, 2, 3, 7)
        for mean in (100, 300, 1_000, 333)
        for delta in (-1, 0, 1)
    ]
    big = [(1, (1 << 52) + 2, (1 << 53) + d) for d in (3, 4, 5)]  # float64 rounds 2**53 + 5 to 2**53 + 4
    cases += big if multiplier == 2 else []
    cases.append((7, 100, 1 << 60))  # amount * n > 2**52
    rows, by_account = [], {}
    for i, (n, mean, amount) in enumerate(cases):  # one account per case: batch rows join the mean
        account = UUID(int=50_000 + i)
        past = [PastTransaction(at - timedelta(hours=h + 1), account, account, mean, "US") for h in range(n)]
        by_account[account] = past
        rows.append(
            replace(
                template,
                uniq_id=UUID(int=i),
                timestamp=at,
                account_id=account,
                card_ref=account,
                amount_cents=amount,
                country="US",
                home_country="US",
            )
        )
    spike = {"multiplier": multiplier, "lookback_days": 1, "min_history": 1}
    rule_set = parse_rules(
        {
            "thresholds": {"reject": 60},
            "rules": [{"id": "s", "type": "amount_spike", "description": "d", "score": 1, "params": spike}],
        }
    )
    assert_same(rows, History(since=at - timedelta(days=1), until=at, by_account=by_account), rule_set)
    fired = [bool(tx.rule_hits) for tx in rows]
    ordinary = multiplier < 1e6
    assert fired[-1] is ordinary and any(fired[:-1]) is ordinary and not all(fired[:-1])
    if multiplier == 2:
        assert fired[-4:-1] == [False, False, True]  # exact integers, not float64


def test_score_columns_api_matches_the_transaction_fields() -> None:
    txs, history, _ = random_batch(11)
    rule_set = random_rule_set(11)
    ordered = sorted(txs, key=lambda t: (t.timestamp, t.uniq_id))
    accounts, cards, codes = builders.KeyTable(), builders.KeyTable(), builders.country_table()
    columns = builders.columns_of(ordered, accounts, cards, codes)
    past = builders.history_columns_of(history, accounts, cards, codes)
    columns = replace(columns, countries=tuple(codes))
    scores = engine.score_columns(columns, past, rule_set)
    reference_rules.score_batch(ordered, history, rule_set)
    enabled = [r.id for r in rule_set.enabled_rules]
    assert scores.rule_ids == tuple(enabled)
    for i, tx in enumerate(ordered):
        assert scores.hits(i) == tx.rule_hits
        assert scores.rules_triggered(i) == tx.rules_triggered
        assert scores.rules_explanation(i) == tx.rules_explanation
        assert int(scores.risk_score[i]) == tx.risk_score
        assert DECISIONS[scores.decision[i]] == tx.decision
        bits = [enabled[k] for k in range(len(enabled)) if int(scores.hit_mask[i]) >> k & 1]
        assert bits == [h.rule_id for h in tx.rule_hits]
        assert (i in scores.explanations) is bool(tx.rule_hits)
    assert scores.risk_score.dtype == np.int64 and scores.decision.dtype == np.int8
    assert scores.hit_mask.dtype == np.int64


def test_history_countries_beyond_the_code_table() -> None:
    """A history country index past ``countries`` (a code the batch does not use) is no batch country."""
    for seed in range(40):
        txs, history, _ = random_batch(seed)
        for rows in history.by_account.values():
            rows[::3] = [replace(r, country="QQ") for r in rows[::3]]
        rule_set = random_rule_set(seed)
        ordered = sorted(txs, key=lambda t: (t.timestamp, t.uniq_id))
        accounts, cards, codes = builders.KeyTable(), builders.KeyTable(), builders.country_table()
        columns = builders.columns_of(ordered, accounts, cards, codes)
        past = builders.history_columns_of(history, accounts, cards, codes)
        assert not len(past) or int(past.country.max()) >= len(columns.countries)  # QQ is past the table
        scores = engine.score_columns(columns, past, rule_set)
        reference_rules.score_batch(ordered, history, rule_set)
        assert [scores.hits(i) for i in range(len(ordered))] == [tx.rule_hits for tx in ordered]


def test_rows_out_of_order_are_refused() -> None:
    txs, history, _ = random_batch(3)
    ordered = sorted(txs, key=lambda t: (t.timestamp, t.uniq_id))
    if ordered[0].timestamp == ordered[-1].timestamp:
        pytest.skip("one instant")
    columns = builders.columns_of(
        ordered[::-1], builders.KeyTable(), builders.KeyTable(), builders.country_table()
    )
    with pytest.raises(ValueError, match="sorted"):
        engine.score_columns(columns, HistoryColumns.empty(ORIGINS[0], ORIGINS[0]), load_rules())


def test_empty_batch_and_empty_history() -> None:
    empty = History(since=ORIGINS[0], until=ORIGINS[0])
    assert_same([], empty, load_rules())
    txs, _, _ = random_batch(4)
    assert_same(txs, empty, load_rules())


def test_too_many_enabled_rules_are_refused_at_load() -> None:
    rule = {"type": "blacklisted_account", "description": "d", "score": 1}
    config = {"thresholds": {"reject": 60}, "rules": [{**rule, "id": f"r{i}"} for i in range(64)]}
    with pytest.raises(RuleConfigError, match="at most 63"):
        parse_rules(config)
    config["rules"][0]["enabled"] = False
    assert len(parse_rules(config).enabled_rules) == 63


def test_generated_windows_score_like_the_reference() -> None:
    """Real generator rows: history from the preceding windows, the default and a denser rule set."""
    from tests.builders import generate_window
    from tests.helpers import SMALL

    settings = SMALL.with_overrides({"fraud_rate": 0.2})
    start = datetime(2026, 11, 2, 11, 0, tzinfo=timezone.utc)
    past: list[Transaction] = []
    for hour in range(2):
        past += generate_window(
            settings, Window(start + timedelta(hours=hour), start + timedelta(hours=hour + 1))
        )
    window = Window(start + timedelta(hours=2), start + timedelta(hours=2, minutes=10))
    batch = generate_window(settings, window)
    by_account: dict[UUID, list[PastTransaction]] = {}
    for tx in sorted(past, key=lambda t: t.timestamp):
        by_account.setdefault(tx.account_id, []).append(
            PastTransaction(tx.timestamp, tx.account_id, tx.card_ref, tx.amount_cents, tx.country)
        )
    history = History(since=start, until=window.start, by_account=by_account)
    summary = assert_same(batch, history, load_rules())
    assert summary.rows == len(batch) > 300 and summary.flagged > 0
    dense = parse_rules(
        {
            "thresholds": {"reject": 60, "review": 20},
            "rules": [
                {
                    "id": "v",
                    "type": "velocity",
                    "description": "d",
                    "score": 30,
                    "params": {"key": "account", "window_minutes": 30, "max_count": 2, "max_amount": 300},
                },
                {
                    "id": "c",
                    "type": "velocity",
                    "description": "d",
                    "score": 30,
                    "params": {"key": "card", "window_minutes": 60, "max_count": 1},
                },
                {
                    "id": "s",
                    "type": "amount_spike",
                    "description": "d",
                    "score": 30,
                    "params": {"multiplier": 1.5, "lookback_days": 1, "min_history": 1},
                },
                {
                    "id": "n",
                    "type": "new_country",
                    "description": "d",
                    "score": 30,
                    "params": {"lookback_days": 1, "min_history": 0},
                },
                {
                    "id": "o",
                    "type": "odd_hours",
                    "description": "d",
                    "score": 30,
                    "params": {"start_hour": 6, "end_hour": 14},
                },
            ],
        }
    )
    summary = assert_same(batch, history, dense)
    assert min(summary.hits_by_rule.values()) > 0, summary.hits_by_rule


def test_no_rules_triggered_text() -> None:
    txs, history, _ = random_batch(2)
    builders.score_batch(
        txs,
        history,
        parse_rules(
            {
                "thresholds": {"reject": 60},
                "rules": [
                    {
                        "id": "b",
                        "type": "blacklisted_account",
                        "description": "d",
                        "score": 1,
                        "enabled": False,
                    }
                ],
            }
        ),
    )
    assert all(tx.rules_triggered == NO_RULES_TRIGGERED and tx.rule_hits == [] for tx in txs)
