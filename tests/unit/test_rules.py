"""Unit tests of the rules engine (banking.rules): validation, every rule type, scoring."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import yaml

from banking import paths
from banking.model import (
    APPROVED,
    CARD_NOT_PRESENT,
    CARD_PRESENT,
    DECISIONS,
    NO_RULES_TRIGGERED,
    REAL_TIME,
    REJECTED,
    REVIEW,
)
from banking.rules.config import RULE_TYPES, RuleConfigError, load_rules, parse_rules
from banking.rules.rule_set import NO_HITS_EXPLANATION, RuleSet
from tests import builders
from tests.builders import History, PastTransaction, Transaction, scored

T0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
ACCOUNT = UUID(int=1)
CARD = UUID(int=101)
_counter = iter(range(1_000_000, 10_000_000))


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def make_tx(
    at: datetime | timedelta = T0, *, amount: float = 25.0, uid: int | None = None, **overrides: Any
) -> Transaction:
    """A legitimate-looking transaction; ``at`` may be an offset from T0, ``amount`` is USD."""
    timestamp = T0 + at if isinstance(at, timedelta) else at
    fields: dict[str, Any] = dict(
        uniq_id=UUID(int=uid if uid is not None else next(_counter)),
        timestamp=timestamp,
        window_start=T0,
        window_end=T0 + timedelta(hours=1),
        trans_type=REAL_TIME,
        channel="pos",
        amount_cents=round(amount * 100),
        currency="USD",
        amount_crr_cents=round(amount * 100),
        account_id=ACCOUNT,
        account_holder_name="Ada Lovelace",
        account_blacklisted=False,
        home_country="US",
        card_ref=CARD,
        card_id="411111******1234",
        card_type="visa",
        card_presense=CARD_PRESENT,
        merchant_id=UUID(int=7),
        merchant_name="Corner Shop",
        merchant_category="Groceries",
        country="US",
        city="New York",
    )
    fields.update(overrides)
    return Transaction(**fields)


def past(
    at: timedelta, *, amount: float = 25.0, country: str = "US", account: UUID = ACCOUNT, card: UUID = CARD
) -> PastTransaction:
    """A history row ``at`` before T0 (pass a positive timedelta)."""
    return PastTransaction(T0 - at, account, card, round(amount * 100), country)


def make_history(*rows: PastTransaction, since: timedelta = timedelta(days=30)) -> History:
    by_account: dict[UUID, list[PastTransaction]] = {}
    for row in sorted(rows, key=lambda r: r.timestamp):
        by_account.setdefault(row.account_id, []).append(row)
    return History(since=T0 - since, until=T0, by_account=by_account)


def rule(rule_type: str, rule_id: str | None = None, score: int = 70, **params: Any) -> dict[str, Any]:
    return {
        "id": rule_id or rule_type,
        "type": rule_type,
        "description": f"test {rule_type}",
        "score": score,
        "params": params,
    }


def rule_set(*rule_dicts: dict[str, Any], reject: int = 60, review: int | None = None) -> RuleSet:
    thresholds: dict[str, Any] = {"reject": reject}
    if review is not None:
        thresholds["review"] = review
    return parse_rules({"version": "test", "thresholds": thresholds, "rules": list(rule_dicts)})


def score(txs: list[Transaction], rs: RuleSet, history: History | None = None) -> list[Transaction]:
    builders.score_batch(txs, history or make_history(), rs)
    return txs


def hit_ids(tx: Transaction) -> list[str]:
    return [h.rule_id for h in tx.rule_hits]


# ---------------------------------------------------------------------------------------------
# high_value and trans_types
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "fires"), [(1999.99, False), (2000.00, True), (2000.01, True)])
def test_high_value_boundary(amount: float, fires: bool) -> None:
    (tx,) = score([make_tx(amount=amount)], rule_set(rule("high_value", min_amount=2000)))
    assert (hit_ids(tx) == ["high_value"]) is fires


def test_high_value_explanation() -> None:
    (tx,) = score([make_tx(amount=2450)], rule_set(rule("high_value", min_amount=2000)))
    assert tx.rules_explanation == "High-value real-time transaction: 2,450.00 USD >= 2,000.00 USD limit"


def test_high_value_fractional_limit_in_cents() -> None:
    rs = rule_set(rule("high_value", min_amount=99.99))
    assert hit_ids(score([make_tx(amount=99.98)], rs)[0]) == []
    assert hit_ids(score([make_tx(amount=99.99)], rs)[0]) == ["high_value"]


def test_trans_types_filter_applies_rule_only_to_listed_types() -> None:
    high = {**rule("high_value", min_amount=100), "trans_types": [REAL_TIME]}
    rs = rule_set(high)
    real_time, settlement, dispute = score(
        [
            make_tx(amount=500),
            make_tx(amount=500, trans_type="settlements"),
            make_tx(amount=500, trans_type="dispute"),
        ],
        rs,
    )
    assert hit_ids(real_time) == ["high_value"]
    assert hit_ids(settlement) == [] and hit_ids(dispute) == []
    assert rs.rule("high_value").trans_types == (REAL_TIME,)


def test_filtered_out_transactions_still_count_as_history() -> None:
    burst = {**rule("velocity", max_count=1, key="card", window_minutes=10), "trans_types": [REAL_TIME]}
    first, second = score(
        [make_tx(timedelta(0), trans_type="settlements"), make_tx(timedelta(minutes=1))], rule_set(burst)
    )
    assert hit_ids(first) == []  # not evaluated on settlements...
    assert hit_ids(second) == ["velocity"]  # ...but the settlement counts for the real-time one


# ---------------------------------------------------------------------------------------------
# blacklisted_account
# ---------------------------------------------------------------------------------------------


def test_blacklisted_account_fires() -> None:
    rs = rule_set(rule("blacklisted_account", score=100))
    bad, good = score([make_tx(account_blacklisted=True), make_tx(account_blacklisted=False)], rs)
    assert hit_ids(bad) == ["blacklisted_account"]
    assert bad.rules_explanation == "Account is on the blacklist"
    assert bad.decision == REJECTED and bad.risk_score == 100
    assert hit_ids(good) == [] and good.decision == APPROVED


# ---------------------------------------------------------------------------------------------
# velocity
# ---------------------------------------------------------------------------------------------

CARD_BURST = rule("velocity", "velocity_card", key="card", window_minutes=10, max_count=3)


def test_velocity_count_boundary_within_batch() -> None:
    txs = score([make_tx(timedelta(seconds=10 * i)) for i in range(5)], rule_set(CARD_BURST))
    assert [hit_ids(t) for t in txs] == [[], [], [], ["velocity_card"], ["velocity_card"]]
    assert txs[3].rules_explanation == "4 card transactions in 10 min (limit 3)"
    assert txs[4].rules_explanation == "5 card transactions in 10 min (limit 3)"


def test_velocity_combines_history_and_batch_rows() -> None:
    history = make_history(past(timedelta(minutes=8)), past(timedelta(minutes=3)))
    first, second = score(
        [make_tx(timedelta(minutes=0)), make_tx(timedelta(minutes=1))], rule_set(CARD_BURST), history
    )
    assert hit_ids(first) == []  # 2 history + itself = 3
    assert hit_ids(second) == ["velocity_card"]  # 2 history + 1 batch + itself = 4


def test_velocity_window_edge_is_exclusive() -> None:
    rs = rule_set(CARD_BURST)
    window = timedelta(minutes=10)
    just_out = make_history(
        *(past(window - timedelta(minutes=i)) for i in range(3))
    )  # oldest at exactly -10 min
    assert hit_ids(score([make_tx()], rs, just_out)[0]) == []
    just_in = make_history(
        past(window - timedelta(microseconds=1)), *(past(window - timedelta(minutes=i)) for i in (1, 2))
    )
    assert hit_ids(score([make_tx()], rs, just_in)[0]) == ["velocity_card"]


def test_velocity_window_edge_within_batch() -> None:
    txs = [make_tx(timedelta(0)), make_tx(timedelta(minutes=1)), make_tx(timedelta(minutes=2))]
    rs = rule_set(rule("velocity", key="card", window_minutes=10, max_count=3))
    late = make_tx(timedelta(minutes=10))  # the first one is exactly 10 minutes earlier: out
    assert hit_ids(score([*txs, late], rs)[-1]) == []
    later = make_tx(timedelta(minutes=10) - timedelta(microseconds=1))
    assert hit_ids(score([*txs, later], rs)[-1]) == ["velocity"]


def test_velocity_card_key_ignores_other_cards_and_account_key_counts_them() -> None:
    other = UUID(int=202)
    rows = [make_tx(timedelta(seconds=i), card_ref=CARD if i % 2 else other) for i in range(4)]
    by_card = score(copy.deepcopy(rows), rule_set(CARD_BURST))
    assert all(hit_ids(t) == [] for t in by_card)
    by_account = score(rows, rule_set(rule("velocity", key="account", window_minutes=10, max_count=3)))
    assert hit_ids(by_account[-1]) == ["velocity"]


def test_velocity_ignores_other_accounts() -> None:
    rows = [
        make_tx(timedelta(seconds=i), account_id=UUID(int=50 + i), card_ref=UUID(int=500 + i))
        for i in range(6)
    ]
    assert all(hit_ids(t) == [] for t in score(rows, rule_set(CARD_BURST)))


@pytest.mark.parametrize(("second_amount", "fires"), [(40.00, False), (40.01, True)])
def test_velocity_amount_boundary(second_amount: float, fires: bool) -> None:
    rs = rule_set(rule("velocity", "velocity_account", key="account", window_minutes=60, max_amount=100))
    history = make_history(past(timedelta(minutes=59), amount=60))
    (tx,) = score([make_tx(amount=second_amount)], rs, history)
    assert (hit_ids(tx) == ["velocity_account"]) is fires
    if fires:
        assert tx.rules_explanation == "2 account transactions totalling 100.01 USD in 1 h (limit 100.00 USD)"


def test_velocity_both_limits_explained() -> None:
    rs = rule_set(rule("velocity", key="card", window_minutes=5, max_count=1, max_amount=10))
    _, tx = score([make_tx(amount=8), make_tx(timedelta(minutes=1), amount=8)], rs)
    assert (
        tx.rules_explanation
        == "2 card transactions totalling 16.00 USD in 5 min (limits 1 transactions, 10.00 USD)"
    )


# ---------------------------------------------------------------------------------------------
# amount_spike
# ---------------------------------------------------------------------------------------------

SPIKE = rule("amount_spike", multiplier=5, lookback_days=7, min_history=5)
FIVE_DAYS_OF_100 = [past(timedelta(days=d), amount=100) for d in range(1, 6)]


@pytest.mark.parametrize(("amount", "fires"), [(499.99, False), (500.00, False), (500.01, True)])
def test_amount_spike_boundary(amount: float, fires: bool) -> None:
    (tx,) = score([make_tx(amount=amount)], rule_set(SPIKE), make_history(*FIVE_DAYS_OF_100))
    assert (hit_ids(tx) == ["amount_spike"]) is fires


def test_amount_spike_explanation() -> None:
    (tx,) = score([make_tx(amount=1500)], rule_set(SPIKE), make_history(*FIVE_DAYS_OF_100))
    assert "1,500.00 USD" in tx.rules_explanation and "100.00 USD" in tx.rules_explanation
    assert "15.0x" in tx.rules_explanation and "limit 5x" in tx.rules_explanation


def test_amount_spike_needs_min_history() -> None:
    (tx,) = score([make_tx(amount=5000)], rule_set(SPIKE), make_history(*FIVE_DAYS_OF_100[:4]))
    assert hit_ids(tx) == []


def test_amount_spike_history_plus_batch_rows_reach_min_history() -> None:
    history = make_history(*FIVE_DAYS_OF_100[:4])
    txs = score(
        [make_tx(timedelta(0), amount=100), make_tx(timedelta(minutes=5), amount=5000)],
        rule_set(SPIKE),
        history,
    )
    assert hit_ids(txs[1]) == ["amount_spike"]


def test_amount_spike_lookback_edge_excludes_old_rows() -> None:
    rows = [*FIVE_DAYS_OF_100[:4], past(timedelta(days=7), amount=100)]  # exactly 7 days old: out
    (tx,) = score([make_tx(amount=5000)], rule_set(SPIKE), make_history(*rows))
    assert hit_ids(tx) == []
    rows[-1] = past(timedelta(days=7) - timedelta(seconds=1), amount=100)
    (tx,) = score([make_tx(amount=5000)], rule_set(SPIKE), make_history(*rows))
    assert hit_ids(tx) == ["amount_spike"]


def test_amount_spike_min_amount() -> None:
    rs = rule_set(rule("amount_spike", multiplier=5, lookback_days=7, min_history=5, min_amount=300))
    history = make_history(*(past(timedelta(days=d), amount=10) for d in range(1, 6)))
    small, large = score([make_tx(amount=299.99), make_tx(timedelta(hours=1), amount=300)], rs, history)
    assert hit_ids(small) == [] and hit_ids(large) == ["amount_spike"]


# ---------------------------------------------------------------------------------------------
# new_country
# ---------------------------------------------------------------------------------------------

NEW_COUNTRY = rule("new_country", lookback_days=30)


def test_new_country_without_history_needs_min_history() -> None:
    (tx,) = score([make_tx(country="BR")], rule_set(NEW_COUNTRY))
    assert hit_ids(tx) == []  # min_history defaults to 1
    (tx,) = score([make_tx(country="BR")], rule_set(rule("new_country", lookback_days=30, min_history=0)))
    assert hit_ids(tx) == ["new_country"]


def test_new_country_with_home_only_history_fires() -> None:
    (tx,) = score([make_tx(country="BR")], rule_set(NEW_COUNTRY), make_history(past(timedelta(days=2))))
    assert hit_ids(tx) == ["new_country"]
    assert tx.rules_explanation == "First transaction from BR in 30 days (home US)"


def test_new_country_seen_in_history_does_not_fire() -> None:
    history = make_history(past(timedelta(days=2)), past(timedelta(days=20), country="BR"))
    (tx,) = score([make_tx(country="BR")], rule_set(NEW_COUNTRY), history)
    assert hit_ids(tx) == []


def test_new_country_seen_before_lookback_fires() -> None:
    history = make_history(past(timedelta(days=2)), past(timedelta(days=30), country="BR"))
    (tx,) = score([make_tx(country="BR")], rule_set(NEW_COUNTRY), history)
    assert hit_ids(tx) == ["new_country"]


def test_new_country_only_first_batch_row_fires() -> None:
    history = make_history(past(timedelta(days=2)))
    first, second = score(
        [make_tx(country="BR"), make_tx(timedelta(minutes=1), country="BR")], rule_set(NEW_COUNTRY), history
    )
    assert hit_ids(first) == ["new_country"] and hit_ids(second) == []


def test_new_country_home_country_never_fires() -> None:
    (tx,) = score([make_tx(country="US")], rule_set(rule("new_country", lookback_days=30, min_history=0)))
    assert hit_ids(tx) == []


# ---------------------------------------------------------------------------------------------
# cnp_high_risk_category
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("presence", "category", "fires"),
    [
        (CARD_NOT_PRESENT, "Electronics", True),
        (CARD_PRESENT, "Electronics", False),
        (CARD_NOT_PRESENT, "Groceries", False),
    ],
)
def test_cnp_high_risk_category(presence: str, category: str, fires: bool) -> None:
    rs = rule_set(rule("cnp_high_risk_category", categories=["Electronics", "Travel"]))
    (tx,) = score([make_tx(card_presense=presence, merchant_category=category)], rs)
    assert (hit_ids(tx) == ["cnp_high_risk_category"]) is fires


# ---------------------------------------------------------------------------------------------
# odd_hours
# ---------------------------------------------------------------------------------------------

ODD_WRAP = rule("odd_hours", start_hour=23, end_hour=2)


@pytest.mark.parametrize(
    ("utc", "fires"),
    [
        # New York in January is UTC-5: local = UTC - 5 h
        (datetime(2026, 1, 15, 3, 59, tzinfo=timezone.utc), False),  # 22:59 local
        (datetime(2026, 1, 15, 4, 0, tzinfo=timezone.utc), True),  # 23:00 local
        (datetime(2026, 1, 15, 5, 30, tzinfo=timezone.utc), True),  # 00:30 local (wrapped)
        (datetime(2026, 1, 15, 6, 59, tzinfo=timezone.utc), True),  # 01:59 local
        (datetime(2026, 1, 15, 7, 0, tzinfo=timezone.utc), False),  # 02:00 local
        (datetime(2026, 1, 15, 23, 30, tzinfo=timezone.utc), False),  # 18:30 local, though 23:30 UTC
        # July: daylight saving time, UTC-4
        (datetime(2026, 7, 15, 3, 0, tzinfo=timezone.utc), True),  # 23:00 local
        (datetime(2026, 7, 15, 6, 0, tzinfo=timezone.utc), False),  # 02:00 local
    ],
)
def test_odd_hours_wraps_midnight_in_home_timezone(utc: datetime, fires: bool) -> None:
    (tx,) = score([make_tx(utc, home_country="US")], rule_set(ODD_WRAP))
    assert (hit_ids(tx) == ["odd_hours"]) is fires


def test_odd_hours_half_hour_offset_and_explanation() -> None:
    rs = rule_set(rule("odd_hours", start_hour=1, end_hour=5))
    # Kolkata is UTC+5:30: 19:29 UTC = 00:59 local, 19:30 UTC = 01:00 local
    before, at = score(
        [
            make_tx(datetime(2026, 1, 14, 19, 29, tzinfo=timezone.utc), home_country="IN"),
            make_tx(datetime(2026, 1, 14, 19, 30, tzinfo=timezone.utc), home_country="IN"),
        ],
        rs,
    )
    assert hit_ids(before) == [] and hit_ids(at) == ["odd_hours"]
    assert "01:00 local time (Asia/Kolkata)" in at.rules_explanation


def test_odd_hours_min_amount() -> None:
    rs = rule_set(rule("odd_hours", start_hour=1, end_hour=5, min_amount=100))
    night = datetime(2026, 1, 15, 8, 0, tzinfo=timezone.utc)  # 03:00 in New York
    small, large = score([make_tx(night, amount=99.99), make_tx(night, amount=100)], rs)
    assert hit_ids(small) == [] and hit_ids(large) == ["odd_hours"]


def test_odd_hours_local_hour_matches_zoneinfo_across_dst_changes() -> None:
    rs = rule_set(rule("odd_hours", start_hour=2, end_hour=3, score=10))  # exactly one local hour
    start = datetime(2026, 3, 7, 0, 0, tzinfo=timezone.utc)  # US DST starts 2026-03-08, EU on 2026-03-29
    txs = []
    for home in ("US", "DE", "AU", "IN", "BR"):
        txs += [
            make_tx(start + timedelta(minutes=13 * i), home_country=home) for i in range(4 * 24 * 60 // 13)
        ]
    score(txs, rs)
    from banking.countries import country

    for tx in txs:
        expected = tx.timestamp.astimezone(country(tx.home_country).zone).hour == 2
        assert (hit_ids(tx) == ["odd_hours"]) is expected, (tx.timestamp, tx.home_country)


# ---------------------------------------------------------------------------------------------
# Decisions and text fields
# ---------------------------------------------------------------------------------------------

COMBINED = rule_set(
    rule("high_value", score=70, min_amount=2000),
    rule("cnp_high_risk_category", "cnp", score=20, categories=["Electronics"]),
    rule("odd_hours", score=15, start_hour=1, end_hour=5),
    rule("blacklisted_account", "blacklist", score=100),
    reject=60,
    review=30,
)
NIGHT = datetime(2026, 1, 15, 8, 0, tzinfo=timezone.utc)  # 03:00 in New York
DAY = datetime(2026, 1, 15, 17, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("overrides", "risk", "decision", "triggered"),
    [
        ({"at": DAY}, 0, APPROVED, NO_RULES_TRIGGERED),
        ({"at": NIGHT}, 15, APPROVED, "odd_hours"),
        (
            {"at": DAY, "card_presense": CARD_NOT_PRESENT, "merchant_category": "Electronics"},
            20,
            APPROVED,
            "cnp",
        ),
        (
            {"at": NIGHT, "card_presense": CARD_NOT_PRESENT, "merchant_category": "Electronics"},
            35,
            REVIEW,
            "cnp, odd_hours",
        ),
        ({"at": DAY, "amount": 2000}, 70, REJECTED, "high_value"),
        (
            {"at": NIGHT, "amount": 2000, "account_blacklisted": True},
            100,
            REJECTED,
            "high_value, odd_hours, blacklist",
        ),
    ],
)
def test_decisions_scores_and_triggered_text(
    overrides: dict, risk: int, decision: str, triggered: str
) -> None:
    (tx,) = score([make_tx(**overrides)], COMBINED)
    assert (tx.risk_score, tx.decision, tx.rules_triggered) == (risk, decision, triggered)
    assert tx.rule_set_version == COMBINED.version


def test_text_fields_join_hits_in_rule_file_order() -> None:
    (tx,) = score([make_tx(NIGHT, amount=2500, account_blacklisted=True)], COMBINED)
    assert tx.rules_triggered == "high_value, odd_hours, blacklist"
    assert tx.rules_explanation == "; ".join(h.explanation for h in tx.rule_hits)
    assert tx.rules_explanation.startswith("High-value real-time transaction: 2,500.00 USD")
    assert tx.risk_score == 100  # 70 + 15 + 100 capped


def test_no_hits_text() -> None:
    (tx,) = score([make_tx(DAY)], COMBINED)
    assert tx.rule_hits == [] and tx.rules_triggered == NO_RULES_TRIGGERED
    assert tx.rules_explanation == NO_HITS_EXPLANATION


def test_without_review_threshold_there_is_no_review() -> None:
    rs = rule_set(rule("odd_hours", score=59, start_hour=1, end_hour=5), reject=60)
    (tx,) = score([make_tx(NIGHT)], rs)
    assert (tx.risk_score, tx.decision) == (59, APPROVED)
    assert rs.review_score is None


def test_decision_is_never_none() -> None:
    rng = random.Random(7)
    txs = [
        make_tx(
            timedelta(minutes=rng.randrange(600)),
            amount=rng.choice([5, 50, 500, 5000]),
            account_blacklisted=rng.random() < 0.1,
            card_presense=rng.choice([CARD_PRESENT, CARD_NOT_PRESENT]),
            merchant_category=rng.choice(["Electronics", "Groceries"]),
        )
        for _ in range(300)
    ]
    summary = builders.score_batch(txs, make_history(), COMBINED)
    assert all(tx.decision in DECISIONS for tx in txs)
    assert sum(summary.decisions.values()) == summary.rows == 300
    assert set(summary.decisions) == set(DECISIONS)


def test_disabled_rule_is_not_evaluated() -> None:
    disabled = {**rule("blacklisted_account", score=100), "enabled": False}
    rs = rule_set(disabled, rule("high_value", min_amount=1000))
    (tx,) = score([make_tx(account_blacklisted=True)], rs)
    assert tx.rule_hits == [] and tx.decision == APPROVED
    assert [r.id for r in rs.rules] == ["blacklisted_account", "high_value"]


def test_rescoring_replaces_previous_results() -> None:
    tx = make_tx(account_blacklisted=True)
    score([tx], rule_set(rule("blacklisted_account", score=100)))
    score([tx], rule_set(rule("high_value", min_amount=1000)))
    assert tx.rule_hits == [] and tx.decision == APPROVED


# ---------------------------------------------------------------------------------------------
# Determinism, ordering, ground truth
# ---------------------------------------------------------------------------------------------


def _mixed_batch(seed: int = 3) -> tuple[list[Transaction], History]:
    rng = random.Random(seed)
    accounts = [UUID(int=10 + i) for i in range(5)]
    history = make_history(
        *(
            past(
                timedelta(hours=rng.randrange(1, 200)),
                amount=rng.randrange(5, 200),
                account=a,
                card=UUID(int=a.int + 100),
            )
            for a in accounts
            for _ in range(10)
        )
    )
    txs = [
        make_tx(
            timedelta(seconds=rng.randrange(0, 1800)),
            uid=i,
            amount=rng.choice([10, 80, 900, 3000]),
            account_id=(a := rng.choice(accounts)),
            card_ref=UUID(int=a.int + 100),
            country=rng.choice(["US", "US", "BR"]),
            card_presense=rng.choice([CARD_PRESENT, CARD_NOT_PRESENT]),
            merchant_category=rng.choice(["Electronics", "Travel", "Groceries"]),
        )
        for i in range(200)
    ]
    return txs, history


def test_scoring_is_deterministic_and_independent_of_input_order() -> None:
    rs = load_rules()
    txs, history = _mixed_batch()
    first = builders.score_batch(txs, history, rs)
    results = {tx.uniq_id: scored(tx) for tx in txs}
    second = builders.score_batch(txs, history, rs)
    assert {tx.uniq_id: scored(tx) for tx in txs} == results
    assert first == second
    shuffled = copy.deepcopy(txs)
    random.Random(9).shuffle(shuffled)
    builders.score_batch(shuffled, history, rs)
    assert {tx.uniq_id: scored(tx) for tx in shuffled} == results
    assert any(tx.rule_hits for tx in txs)  # the batch does exercise the rules


def test_equal_timestamps_are_ordered_by_uniq_id() -> None:
    rs = rule_set(rule("velocity", key="card", window_minutes=10, max_count=1))
    a, b = make_tx(uid=2), make_tx(uid=1)
    score([a, b], rs)
    assert hit_ids(b) == [] and hit_ids(a) == ["velocity"]  # uid 1 is processed first


class _GroundTruthSpy(Transaction):
    """A Transaction whose fraud_scenario raises if scoring ever reads it."""

    @property  # type: ignore[override]
    def fraud_scenario(self) -> str | None:
        raise AssertionError("scoring read fraud_scenario")

    @fraud_scenario.setter
    def fraud_scenario(self, value: str | None) -> None:
        self.__dict__["_truth"] = value


def test_fraud_scenario_is_never_read() -> None:
    spy = _GroundTruthSpy(
        **{f: getattr(make_tx(), f) for f in Transaction.__slots__ if f != "fraud_scenario"}
    )
    spy.account_blacklisted = True
    score([spy], load_rules())
    assert spy.decision == REJECTED


def test_fraud_scenario_does_not_change_the_result() -> None:
    rs = load_rules()
    txs, history = _mixed_batch()
    labelled = [replace(tx, fraud_scenario="card_testing") for tx in txs]
    builders.score_batch(txs, history, rs)
    builders.score_batch(labelled, history, rs)
    assert [scored(t) for t in txs] == [scored(t) for t in labelled]


# ---------------------------------------------------------------------------------------------
# Summary, version, lookback
# ---------------------------------------------------------------------------------------------


def test_score_summary_counts() -> None:
    txs = [make_tx(DAY), make_tx(NIGHT), make_tx(DAY, amount=5000), make_tx(DAY, account_blacklisted=True)]
    summary = builders.score_batch(txs, make_history(), COMBINED)
    assert summary.rows == 4
    assert summary.decisions == {APPROVED: 2, REVIEW: 0, REJECTED: 2}
    assert summary.hits_by_rule == {"high_value": 1, "cnp": 0, "odd_hours": 1, "blacklist": 1}
    assert summary.flagged == 2
    as_dict = summary.as_dict()
    assert as_dict["rule_set_version"] == COMBINED.version and as_dict["rows"] == 4
    json.dumps(as_dict)


def test_empty_batch() -> None:
    summary = builders.score_batch([], make_history(), COMBINED)
    assert summary.rows == 0 and summary.mean_risk_score == 0.0


BASE_CONFIG: dict[str, Any] = {
    "version": "1.0",
    "thresholds": {"reject": 60, "review": 30},
    "rules": [rule("high_value", min_amount=2000), rule("blacklisted_account", score=100)],
}


def test_version_is_stable_for_equal_content_and_changes_with_content(tmp_path: Path) -> None:
    base = parse_rules(copy.deepcopy(BASE_CONFIG))
    assert base.version.startswith("1.0+") and len(base.version) == len("1.0+") + 10
    assert parse_rules(copy.deepcopy(BASE_CONFIG)).version == base.version
    # formatting, comments, key order and file format do not matter
    yaml_file = tmp_path / "rules.yaml"
    yaml_file.write_text("# a comment\n" + yaml.safe_dump(BASE_CONFIG, sort_keys=False, indent=4))
    json_file = tmp_path / "rules.json"
    json_file.write_text(json.dumps(dict(reversed(list(BASE_CONFIG.items())))))
    assert load_rules(yaml_file).version == base.version
    assert load_rules(json_file).version == base.version
    changed = copy.deepcopy(BASE_CONFIG)
    changed["rules"][0]["score"] = 71
    assert parse_rules(changed).version not in (base.version,)
    assert parse_rules(changed).version.startswith("1.0+")


def test_version_without_explicit_version_is_a_hash() -> None:
    config = {k: v for k, v in copy.deepcopy(BASE_CONFIG).items() if k != "version"}
    version = parse_rules(config).version
    assert version.startswith("sha-") and len(version) == 14
    int(version[4:], 16)


def test_lookback_covers_the_enabled_rules() -> None:
    rs = rule_set(
        rule("velocity", key="card", window_minutes=10, max_count=3),
        rule("amount_spike", multiplier=5, lookback_days=3, min_history=2),
        {**rule("new_country", lookback_days=30), "enabled": False},
        rule("high_value", min_amount=100),
    )
    assert rs.lookback == timedelta(days=3)
    assert rule_set(rule("high_value", min_amount=100)).lookback == timedelta(0)
    assert load_rules().lookback >= max(r.lookback for r in load_rules().enabled_rules)


def test_history_trimmed_to_the_lookback_gives_the_same_result() -> None:
    rs = load_rules()
    txs, full = _mixed_batch()
    since = T0 - rs.lookback
    trimmed = History(
        since=since,
        until=T0,
        by_account={a: [r for r in rows if r.timestamp >= since] for a, rows in full.by_account.items()},
    )
    assert sum(map(len, trimmed.by_account.values())) < sum(map(len, full.by_account.values()))
    builders.score_batch(txs, full, rs)
    expected = [scored(t) for t in txs]
    builders.score_batch(txs, trimmed, rs)
    assert [scored(t) for t in txs] == expected


def test_history_outside_the_lookback_is_ignored() -> None:
    rs = rule_set(rule("velocity", key="account", window_minutes=60, max_count=1))
    history = make_history(past(timedelta(hours=2)), past(timedelta(days=3)))
    (tx,) = score([make_tx()], rs, history)
    assert hit_ids(tx) == []


# ---------------------------------------------------------------------------------------------
# Configuration errors
# ---------------------------------------------------------------------------------------------


def _config(**changes: Any) -> dict[str, Any]:
    """BASE_CONFIG with top-level keys replaced (None deletes) ."""
    config = copy.deepcopy(BASE_CONFIG)
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    return config


def _with_rule(**fields: Any) -> dict[str, Any]:
    """BASE_CONFIG whose first rule (id high_value) has fields replaced (None deletes)."""
    config = copy.deepcopy(BASE_CONFIG)
    first = config["rules"][0]
    for key, value in fields.items():
        if value is None:
            first.pop(key, None)
        else:
            first[key] = value
    return config


def _bad_rule(rule_type: str, **params: Any) -> dict[str, Any]:
    return _config(rules=[rule(rule_type, "bad_rule", **params)])


HV, BAD = "rule 'high_value'", "rule 'bad_rule'"


def case(
    name: str, content: Any, label: str | None = None, field: str | None = None, suffix: str = ".yaml"
) -> Any:
    """content: dict -> dumped (YAML or JSON by suffix), str -> written as is, None -> no file."""
    return pytest.param(content, label, field, suffix, id=name)


BAD_CONFIGS = [
    case("missing file", None),
    case("malformed yaml", "thresholds: {reject: 60\nrules: ["),
    case("malformed json", '{"thresholds": {"reject": 60},', suffix=".json"),
    case("duplicate yaml key", "thresholds: {reject: 60}\nthresholds: {reject: 50}\nrules: []\n"),
    case("unsupported suffix", "{}", suffix=".txt"),
    case("top level not a mapping", "- 1\n- 2\n"),
    case("unknown top-level key", _config(extra=1), None, "extra"),
    case("missing thresholds", _config(thresholds=None), None, "thresholds"),
    case("threshold as string", _config(thresholds={"reject": "60"}), None, "thresholds.reject"),
    case("threshold out of range", _config(thresholds={"reject": 101}), None, "thresholds.reject"),
    case("threshold as bool", _config(thresholds={"reject": True}), None, "thresholds.reject", ".json"),
    case("review >= reject", _config(thresholds={"reject": 60, "review": 60}), None, "thresholds.review"),
    case("unknown threshold", _config(thresholds={"reject": 60, "block": 90}), None, "thresholds.block"),
    case("version not a string", _config(version=2026.11), None, "version"),
    case("empty rules", _config(rules=[]), None, "rules"),
    case("rule not a mapping", _config(rules=["high_value"]), "rule #1", "rules"),
    case("bad id", _with_rule(id="High-Value"), "rule #1", "id"),
    case("missing id", _with_rule(id=None), "rule #1", "id"),
    case(
        "duplicate id",
        _config(rules=[rule("high_value", min_amount=1), rule("high_value", min_amount=2)]),
        HV,
        "id",
    ),
    case("unknown type", _with_rule(type="geo_fence"), HV, "type"),
    case("unknown rule key", _with_rule(weight=3), HV, "weight"),
    case("missing description", _with_rule(description=None), HV, "description"),
    case("empty description", _with_rule(description="  "), HV, "description"),
    case("score above 100", _with_rule(score=101), HV, "score"),
    case("score as bool", _with_rule(score=True), HV, "score"),
    case("enabled as string", _with_rule(enabled="yes"), HV, "enabled"),
    case("unknown trans type", _with_rule(trans_types=["wire"]), HV, "trans_types"),
    case("params not a mapping", _with_rule(params=[2000]), HV, "params"),
    case("negative min_amount", _with_rule(params={"min_amount": -5}), HV, "min_amount"),
    case("min_amount as string", _with_rule(params={"min_amount": "100"}), HV, "min_amount"),
    case("min_amount as NaN", _with_rule(params={"min_amount": float("nan")}), HV, "min_amount"),
    case("unknown param", _with_rule(params={"min_amount": 5, "currency": "EUR"}), HV, "currency"),
    case("missing param", _with_rule(params={}), HV, "min_amount"),
    case(
        "max_count as word",
        _bad_rule("velocity", key="card", window_minutes=10, max_count="ten"),
        BAD,
        "max_count",
    ),
    case(
        "window as bool",
        _bad_rule("velocity", key="card", window_minutes=True, max_count=3),
        BAD,
        "window_minutes",
    ),
    case(
        "window as float",
        _bad_rule("velocity", key="card", window_minutes=1.5, max_count=3),
        BAD,
        "window_minutes",
    ),
    case(
        "bad velocity key", _bad_rule("velocity", key="merchant", window_minutes=10, max_count=3), BAD, "key"
    ),
    case("velocity without limit", _bad_rule("velocity", key="card", window_minutes=10), BAD, "max_count"),
    case(
        "multiplier 1",
        _bad_rule("amount_spike", multiplier=1, lookback_days=7, min_history=3),
        BAD,
        "multiplier",
    ),
    case(
        "min_history 0",
        _bad_rule("amount_spike", multiplier=3, lookback_days=7, min_history=0),
        BAD,
        "min_history",
    ),
    case("negative history", _bad_rule("new_country", lookback_days=7, min_history=-1), BAD, "min_history"),
    case("unknown category", _bad_rule("cnp_high_risk_category", categories=["Casino"]), BAD, "categories"),
    case("empty categories", _bad_rule("cnp_high_risk_category", categories=[]), BAD, "categories"),
    case("hour 24", _bad_rule("odd_hours", start_hour=1, end_hour=24), BAD, "end_hour"),
    case("empty hour range", _bad_rule("odd_hours", start_hour=3, end_hour=3), BAD, "end_hour"),
    case("param of no-param rule", _bad_rule("blacklisted_account", level=1), BAD, "level", ".json"),
]


@pytest.mark.parametrize(("content", "rule_label", "field", "suffix"), BAD_CONFIGS)
def test_bad_config_is_rejected_with_file_rule_and_field(
    tmp_path: Path, content: Any, rule_label: str | None, field: str | None, suffix: str
) -> None:
    path = tmp_path / f"bad_rules{suffix}"
    if isinstance(content, dict):
        path.write_text(
            json.dumps(content) if suffix == ".json" else yaml.safe_dump(content, sort_keys=False)
        )
    elif isinstance(content, str):
        path.write_text(content)
    with pytest.raises(RuleConfigError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    if rule_label is not None:
        assert f": {rule_label}: " in message, message
    if field is not None:
        assert f"field '{field}'" in message, message
    assert caught.value.source == str(path)
    assert isinstance(caught.value, ValueError)


def test_error_message_format_matches_the_documented_example() -> None:
    config = _config(
        rules=[rule("velocity", "velocity_card", key="card", window_minutes=10, max_count="ten")]
    )
    with pytest.raises(RuleConfigError) as caught:
        parse_rules(config, "include/rules/rules.yaml")
    assert str(caught.value) == (
        "include/rules/rules.yaml: rule 'velocity_card': "
        "field 'max_count' must be a positive integer, got 'ten'"
    )
    assert (caught.value.rule, caught.value.field) == ("rule 'velocity_card'", "max_count")


def test_parse_rules_inline_source() -> None:
    with pytest.raises(RuleConfigError, match=r"^<inline>: field 'rules'"):
        parse_rules({"thresholds": {"reject": 60}, "rules": []})
    assert parse_rules(copy.deepcopy(BASE_CONFIG)).source == "<inline>"


# ---------------------------------------------------------------------------------------------
# The committed default rule file
# ---------------------------------------------------------------------------------------------


def test_default_rule_file_loads() -> None:
    rs = load_rules()
    assert rs == load_rules(paths.RULES_FILE)
    assert rs.source == "include/rules/rules.yaml"
    assert rs.version.startswith("2026.11.1+")
    assert {r.type for r in rs.rules} == set(RULE_TYPES)
    assert {"velocity_card", "velocity_account"} <= {r.id for r in rs.rules}
    assert all(r.enabled for r in rs.rules)
    assert rs.review_score is not None and rs.review_score < rs.reject_score
    assert timedelta(0) < rs.lookback <= timedelta(days=31)


def test_default_rules_on_the_generator_scenarios() -> None:
    rs = load_rules()
    day = datetime(2026, 1, 15, 17, 0, tzinfo=timezone.utc)  # noon in New York
    usual = make_history(*(past(timedelta(hours=3 * i + 1), amount=60 + i) for i in range(20)))
    legit = score([make_tx(day, amount=45)], rs, usual)[0]
    assert legit.decision == APPROVED
    blacklisted = score([make_tx(day, account_blacklisted=True)], rs, usual)[0]
    assert blacklisted.decision == REJECTED
    burst = score(
        [
            make_tx(
                day + timedelta(seconds=10 * i),
                amount=1.5,
                card_presense=CARD_NOT_PRESENT,
                channel="ecommerce",
            )
            for i in range(8)
        ],
        rs,
        usual,
    )
    assert burst[-1].decision == REJECTED and "velocity_card" in burst[-1].rules_triggered
    spike = score([make_tx(day, amount=900)], rs, usual)[0]
    assert "amount_spike" in spike.rules_triggered and spike.decision == REVIEW
    takeover = score(
        [
            make_tx(day, amount=2500, country="BR"),
            make_tx(day + timedelta(minutes=5), amount=4000, country="BR"),
        ],
        rs,
        usual,
    )
    assert all(tx.decision == REJECTED for tx in takeover)
    big = score([make_tx(day, amount=5000)], rs, usual)[0]
    assert big.decision == REJECTED and "high_value" in big.rules_triggered
