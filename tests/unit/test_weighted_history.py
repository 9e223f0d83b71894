"""Aggregate events (a weight and a summed amount standing for many rows) score exactly like the
rows they stand for, when placed as ``history_totals.plan`` places them: the engine half of the state read."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from banking.countries import COUNTRIES
from banking.model import EPOCH, MERCHANT_CATEGORIES, Window
from banking.rules import history_totals
from banking.rules.columns import Columns, HistoryColumns
from banking.rules.config import load_rules
from banking.rules.engine import Scores, score_columns
from banking.rules.rule_set import AmountSpikeParams, NewCountryParams, Rule, RuleSet
from banking.store import account_tiles

_US = timedelta(microseconds=1)
_MINUTE_US = 60_000_000
START = datetime(2026, 11, 2, tzinfo=timezone.utc)
DAY_SPAN = timedelta(days=1)


def synthetic(
    minutes: int, accounts: int, days: float, per_minute: int, seed: int
) -> tuple[Columns, HistoryColumns]:
    """A batch of ``minutes`` from START after ``days`` of history, ``per_minute`` rows a minute."""
    rng = np.random.default_rng(seed)
    codes = tuple(COUNTRIES)
    home = rng.integers(0, 5, accounts).astype(np.int32)
    start_us = (START - EPOCH) // _US

    def draw(n: int, t0: int, t1: int) -> dict[str, np.ndarray]:
        account = rng.integers(0, accounts, n)
        foreign = rng.random(n) < 0.05
        t_us = np.sort(rng.integers(t0, t1, n))
        t_us[: n // 50] = t0  # some rows exactly on the first bound
        return {
            "t_us": np.sort(t_us),
            "account": account.astype(np.int64),
            "card": (2 * account + rng.integers(0, 2, n)).astype(np.int64),
            "amount_cents": (
                np.round(rng.lognormal(8.5, 1.3, n)) * np.where(rng.random(n) < 0.01, 40, 1)
            ).astype(np.int64),
            "country": np.where(foreign, rng.integers(0, len(codes), n), home[account]).astype(np.int32),
        }

    past_us = int(days * 86_400_000_000)
    h = draw(int(days * 1440 * per_minute), start_us - past_us, start_us)
    n = minutes * per_minute
    b = draw(n, start_us, start_us + minutes * _MINUTE_US)
    columns = Columns(
        **b,
        home_country=home[b["account"]],
        trans_type=rng.choice(3, n, p=[0.8, 0.15, 0.05]).astype(np.int8),
        card_present=rng.random(n) < 0.7,
        category=rng.integers(0, len(MERCHANT_CATEGORIES), n).astype(np.int8),
        blacklisted=np.zeros(n, bool),
        countries=codes,
    )
    return columns, HistoryColumns(**h, since=START - timedelta(days=days), until=START)


def other_lookbacks(short_days: int, long_days: int) -> RuleSet:
    """The default rules with amount_spike and new_country looking back other spans."""
    base = load_rules()
    changed = []
    for rule in base.rules:
        p = rule.params
        if isinstance(p, AmountSpikeParams):
            p = AmountSpikeParams(p.multiplier, short_days, p.min_history, p.min_amount)
        elif isinstance(p, NewCountryParams):
            p = NewCountryParams(long_days, p.min_history)
        changed.append(
            Rule(rule.id, rule.type, rule.description, rule.score, rule.enabled, rule.trans_types, p)
        )
    return RuleSet(base.version, tuple(changed), base.reject_score, base.review_score, base.source)


def collapsed(history: HistoryColumns, plan: history_totals.Plan) -> HistoryColumns:
    """What the state read gives for ``plan``: raw rows in its raw ranges, one event per (account,
    country) and aggregate range, computed here from the raw rows themselves."""
    t, epoch = history.t_us, EPOCH
    us = [((a - epoch) // _US, (b - epoch) // _US) for a, b in plan.raw]
    keep = np.zeros(len(t), bool)
    for a, b in us:
        keep |= (t >= a) & (t < b)
    parts = {
        "t_us": [t[keep]],
        "account": [history.account[keep]],
        "card": [history.card[keep]],
        "amount_cents": [history.amount_cents[keep]],
        "country": [history.country[keep]],
        "weight": [np.ones(int(keep.sum()), np.int64)],
    }
    for lo, hi in plan.aggregates:
        a, b = (lo - epoch) // _US, (hi - epoch) // _US
        inside = (t >= a) & (t < b)
        pair = history.account[inside] * 1000 + history.country[inside]
        pairs, inverse, counts = np.unique(pair, return_inverse=True, return_counts=True)
        sums = np.zeros(len(pairs), np.int64)
        np.add.at(sums, inverse, history.amount_cents[inside])
        parts["t_us"].append(np.full(len(pairs), a, np.int64))
        parts["account"].append(pairs // 1000)
        parts["card"].append(np.full(len(pairs), -1, np.int64))
        parts["amount_cents"].append(sums)
        parts["country"].append((pairs % 1000).astype(np.int32))
        parts["weight"].append(counts.astype(np.int64))
    joined = {k: np.concatenate(v) for k, v in parts.items()}
    order = np.argsort(joined["t_us"], kind="stable")
    return HistoryColumns(
        **{k: v[order] for k, v in joined.items()}, since=history.since, until=history.until
    )


def assert_same_scores(a: Scores, b: Scores) -> None:
    assert (a.decision == b.decision).all()
    assert (a.risk_score == b.risk_score).all()
    assert (a.hit_mask == b.hit_mask).all()
    assert a.explanations == b.explanations
    assert a.summary == b.summary


@pytest.mark.parametrize(("rule_set", "days"), [(load_rules(), 7.02), (other_lookbacks(1, 2), 2.02)])
def test_aggregate_events_score_like_their_rows(rule_set: RuleSet, days: float) -> None:
    columns, history = synthetic(minutes=30, accounts=3000, days=days, per_minute=40, seed=5)
    window = Window(START, START + timedelta(minutes=30))
    plan = history_totals.plan(window, history_totals.Spans.of(rule_set), None)
    assert isinstance(plan, history_totals.Plan), plan
    short = collapsed(history, plan)
    assert len(short) < len(history) / 5 and int(short.weight.max()) > 1
    raw_scores = score_columns(columns, history, rule_set)
    assert_same_scores(raw_scores, score_columns(columns, short, rule_set))
    hits = raw_scores.summary.hits_by_rule
    assert hits["amount_spike"] > 0 and hits["new_country"] > 0, hits


def test_plan_refuses_what_it_cannot_make_exact() -> None:
    spans = history_totals.Spans.of(load_rules())
    assert spans == history_totals.Spans(timedelta(hours=1), (timedelta(days=7),))
    ws = START
    assert isinstance(
        history_totals.plan(Window(ws, ws + timedelta(hours=1)), spans, None), history_totals.Plan
    )
    assert isinstance(history_totals.plan(Window(ws, ws + timedelta(hours=2)), spans, None), str)  # too long
    odd = Window(ws + timedelta(seconds=1), ws + timedelta(minutes=2))
    assert isinstance(history_totals.plan(odd, spans, None), str)
    close = history_totals.Spans(timedelta(minutes=10), (timedelta(days=1), timedelta(days=1, minutes=5)))
    assert isinstance(history_totals.plan(Window(ws, ws + timedelta(minutes=10)), close, None), str)
    long_velocity = history_totals.Spans(timedelta(days=1), (timedelta(days=1),))
    assert isinstance(history_totals.plan(Window(ws, ws + timedelta(minutes=1)), long_velocity, None), str)
    window = Window(ws, ws + timedelta(minutes=1))
    later = window.end - timedelta(days=7) + timedelta(minutes=1)
    assert isinstance(history_totals.plan(window, spans, later), str)  # reads before the state's horizon
    plan = history_totals.plan(window, spans, window.end - timedelta(days=7))
    week_ago, hour = ws - timedelta(days=7), timedelta(hours=1)
    assert ws.minute == 0 and plan == history_totals.Plan(
        raw=((week_ago, week_ago + hour), (ws - hour, ws)),
        aggregates=((week_ago + hour, ws - hour),),
        width=timedelta(minutes=1),
    )
    assert plan.by_account(*plan.raw[0]) and plan.by_account(*plan.raw[1])
    last = Window(ws + timedelta(minutes=59), ws + hour)  # its strip ends on an hour: read as it is
    plan = history_totals.plan(last, spans, None)
    assert isinstance(plan, history_totals.Plan) and plan.raw[0] == (
        last.start - timedelta(days=7),
        week_ago + hour,
    )
    assert not plan.by_account(*plan.raw[0])


@pytest.mark.parametrize("minutes", [1, 5, 17, 60])
def test_the_plan_tiles_the_look_back_with_whole_hours_of_tiles(minutes: int) -> None:
    """Raw ranges and aggregate ranges cover the look-back once, without gap or overlap, the aggregates
    in whole hours and clear of every span's strip, for windows starting at every minute of an hour."""
    hour = timedelta(hours=1)
    for spans in (
        history_totals.Spans.of(load_rules()),
        history_totals.Spans(
            timedelta(minutes=10), (timedelta(days=1), timedelta(days=2), timedelta(days=7))
        ),
        history_totals.Spans(timedelta(0), (timedelta(hours=3),)),
    ):
        for offset in range(60):
            ws = START + timedelta(minutes=offset)
            window = Window(ws, ws + timedelta(minutes=minutes))
            plan = history_totals.plan(window, spans, None)
            assert isinstance(plan, history_totals.Plan), plan
            pieces = sorted(plan.raw + plan.aggregates)
            assert pieces[0][0] == ws - spans.long[-1] and pieces[-1][1] == ws
            assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
            for lo, hi in plan.aggregates:
                assert (lo - EPOCH) % hour == timedelta(0) == (hi - EPOCH) % hour and lo < hi
                for span in (spans.short, *spans.long):
                    assert hi <= ws - span or lo >= window.end - span
            every_day = {START + timedelta(days=d) for d in range(-12, 2)}
            for sealed in (every_day, set(), {d for d in every_day if d.day % 3}):
                pieces = history_totals.tile_pieces(plan.aggregates, sealed)
                hours, days = pieces.hours, pieces.days
                assert pieces.block_at is None
                for lo, hi in plan.aggregates:  # its pieces cover it once: day pieces sealed days, none empty
                    mine = sorted(
                        [(a, b, False) for at, a, b in hours if at == lo]
                        + [(a, b, True) for at, a, b in days if at == lo]
                    )
                    assert mine[0][0] == lo and mine[-1][1] == hi and all(a < b for a, b, _ in mine)
                    assert all(x[1] == y[0] for x, y in zip(mine, mine[1:], strict=False))
                    for a, b, is_day in mine:
                        whole = [a + timedelta(days=i) for i in range((b - a).days)]
                        assert not is_day or (whole and a + len(whole) * timedelta(days=1) == b)
                        assert not is_day or all(d in sealed for d in whole)
                    inside = {d for d in sealed if lo <= d and d + DAY_SPAN <= hi}
                    assert inside == {
                        a + timedelta(days=i) for a, b, is_day in mine if is_day for i in range((b - a).days)
                    }, "every sealed day inside the range is read from its day tile"
                assert any(days) == bool(sealed) or spans.long[-1] < timedelta(days=1)
            the_block_is_read_by_the_window_after_the_latest_load(window, spans, plan)


def the_block_is_read_by_the_window_after_the_latest_load(
    window: Window, spans: history_totals.Spans, plan: history_totals.Plan
) -> None:
    """The block is the first look-back's aggregate for the one-minute window starting where it was
    placed (``Block.at``), and only for it: the rest of the look-back read as without it."""
    geometry = spans.block_geometry()
    if geometry is None:
        return
    minute = timedelta(minutes=1)
    ws, width = window.start, window.end - window.start
    for end in (ws, ws - minute, ws + minute):
        block = account_tiles.Block.at(end, *geometry)
        with_block = history_totals.plan(window, spans, None, (block.since, block.until))
        assert isinstance(with_block, history_totals.Plan)
        if end != ws or width != minute:
            assert with_block == plan, "a block elsewhere is not read"
            continue
        first = spans.long[0]
        assert with_block.block == (block.since, block.until) == with_block.aggregates[0]
        assert block.since == window.end - first and block.until == ws - spans.short
        assert with_block.aggregates[1:] == tuple(r for r in plan.aggregates if r[1] <= ws - first)
        pieces = sorted(with_block.raw + with_block.aggregates)
        assert pieces[0][0] == ws - spans.long[-1] and pieces[-1][1] == ws
        assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
        if len(spans.long) == 1:  # the far edge is the window's strip, read by time
            assert with_block.raw[0] == (ws - first, block.since) and not with_block.by_account(
                *with_block.raw[0]
            )
        tiles = history_totals.tile_pieces(with_block.aggregates, set(), with_block.block)
        assert tiles.block_at == block.since
        assert all(at != block.since for at, _, _ in tiles.hours + tiles.days)
