"""Today's per-row rules engine, kept verbatim as the oracle of the vectorised one (tests only).

This is the scoring half of ``plugins/banking/rules.py`` as it was before issue #5 moved scoring
to ``banking.scoring``: the ``_Timeline``/``_Window``/``_Evaluator`` classes and ``score_batch``.
Configuration (Rule, RuleSet, the params classes, ScoreSummary) still comes from ``banking.rules``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from banking import countries
from banking.model import (
    CARD_NOT_PRESENT,
    DECISIONS,
    NO_RULES_TRIGGERED,
    REAL_TIME,
    RuleHit,
)
from banking.rules.engine import ScoreSummary
from banking.rules.rule_set import (
    MAX_RISK_SCORE,
    NO_HITS_EXPLANATION,
    AmountSpikeParams,
    CnpCategoryParams,
    HighValueParams,
    NewCountryParams,
    OddHoursParams,
    Rule,
    RuleSet,
    VelocityParams,
)
from banking.rules.rule_set import to_cents as _to_cents
from tests.builders import History, PastTransaction, Transaction

# --------------------------------------------------------------------------------------------
# Scoring state: per-account / per-card timelines and sliding windows over them
# --------------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_NEVER = 1 << 62
_US_PER_MIN = 60_000_000
_US_PER_DAY = 86_400_000_000
_timestamp_of = attrgetter("timestamp")


def _micros(ts: datetime) -> int:
    """Exact integer microseconds since the epoch of an aware datetime."""
    return (ts - _EPOCH) // _MICROSECOND


class _Timeline:
    """The transactions of one account (or card) seen so far, oldest first.

    History rows are fed lazily (``catch_up``) so that a history row is seen before any batch
    row with the same or a later timestamp, exactly as if everything arrived in order.
    """

    __slots__ = ("ts", "amounts", "countries", "windows", "_pending", "_next", "_next_us")

    def __init__(self, pending: list[PastTransaction], slots: int):
        self.ts: list[int] = []
        self.amounts: list[int] = []
        self.countries: list[str] = []
        self.windows: list[_Window | None] = [None] * slots
        self._pending = pending
        self._next = 0
        self._next_us = _micros(pending[0].timestamp) if pending else _NEVER

    def catch_up(self, t_us: int) -> None:
        """Feed the history rows with timestamp <= t_us."""
        pending = self._pending
        while self._next_us <= t_us:
            row = pending[self._next]
            self.append(self._next_us, row.amount_cents, row.country)
            self._next += 1
            self._next_us = _micros(pending[self._next].timestamp) if self._next < len(pending) else _NEVER

    def append(self, t_us: int, amount_cents: int, country: str) -> None:
        self.ts.append(t_us)
        self.amounts.append(amount_cents)
        self.countries.append(country)


class _Window:
    """Running count / sum (and optionally country counts) of a timeline's entries in (t - span, t]."""

    __slots__ = ("line", "span", "lo", "hi", "total", "by_country")

    def __init__(self, line: _Timeline, span_us: int, track_countries: bool):
        self.line = line
        self.span = span_us
        self.lo = 0
        self.hi = 0
        self.total = 0
        self.by_country: dict[str, int] | None = {} if track_countries else None

    @property
    def count(self) -> int:
        return self.hi - self.lo

    def slide(self, t_us: int) -> None:
        """Cover every entry appended so far whose timestamp is after t_us - span."""
        line = self.line
        ts, amounts, by_country = line.ts, line.amounts, self.by_country
        hi, n = self.hi, len(ts)
        if hi < n:
            self.total += sum(amounts[hi:n])
            if by_country is not None:
                for c in line.countries[hi:n]:
                    by_country[c] = by_country.get(c, 0) + 1
            self.hi = n
        cutoff = t_us - self.span
        lo = self.lo
        if lo < n and ts[lo] <= cutoff:
            total = self.total
            while lo < n and ts[lo] <= cutoff:
                total -= amounts[lo]
                if by_country is not None:
                    by_country[line.countries[lo]] -= 1
                lo += 1
            self.total, self.lo = total, lo


class _Timelines:
    """Lazily built timelines per account and per card, seeded from the loaded history."""

    def __init__(self, history: History, lookback: timedelta, slots: int):
        self._history = history
        self._lookback = lookback
        self._slots = slots
        self._accounts: dict[Any, _Timeline] = {}
        self._account_history: dict[Any, list[PastTransaction]] = {}
        self._cards: dict[Any, _Timeline] = {}

    def _recent_history(self, tx: Transaction) -> list[PastTransaction]:
        """The account's history rows a rule can still see from this (its first) transaction on."""
        rows = self._account_history.get(tx.account_id)
        if rows is None:
            rows = self._history.for_account(tx.account_id)
            start = bisect_right(rows, tx.timestamp - self._lookback, key=_timestamp_of)
            rows = self._account_history[tx.account_id] = rows[start:] if start else rows
        return rows

    def account(self, tx: Transaction, t_us: int) -> _Timeline:
        line = self._accounts.get(tx.account_id)
        if line is None:
            line = self._accounts[tx.account_id] = _Timeline(self._recent_history(tx), self._slots)
        line.catch_up(t_us)
        return line

    def card(self, tx: Transaction, t_us: int) -> _Timeline:
        line = self._cards.get(tx.card_ref)
        if line is None:
            rows = [r for r in self._recent_history(tx) if r.card_ref == tx.card_ref]
            line = self._cards[tx.card_ref] = _Timeline(rows, self._slots)
        line.catch_up(t_us)
        return line


class _LocalClock:
    """Local wall-clock seconds in a home country's timezone, with UTC offsets cached per hour."""

    def __init__(self) -> None:
        self._zones: dict[str, ZoneInfo | timezone] = {}
        self._offsets: dict[tuple[str, int], int | None] = {}

    def zone(self, home_country: str) -> ZoneInfo | timezone:
        zone = self._zones.get(home_country)
        if zone is None:
            try:
                zone = countries.country(home_country).zone
            except KeyError:
                zone = timezone.utc  # unknown home country: fall back to UTC rather than fail the batch
            self._zones[home_country] = zone
        return zone

    def local_seconds(self, home_country: str, t_s: int) -> int:
        """Seconds since the epoch of the local wall-clock time of UTC second t_s."""
        key = (home_country, t_s // 3600)
        try:
            offset = self._offsets[key]
        except KeyError:  # cache the hour's offset only if it is constant for the whole hour
            zone = self.zone(home_country)
            start = key[1] * 3600
            first, last = _utc_offset(zone, start), _utc_offset(zone, start + 3599)
            offset = self._offsets[key] = first if first == last else None
        if offset is None:  # a UTC offset change inside this hour
            offset = _utc_offset(self.zone(home_country), t_s)
        return t_s + offset


def _utc_offset(zone: ZoneInfo | timezone, t_s: int) -> int:
    delta = datetime.fromtimestamp(t_s, zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


# --------------------------------------------------------------------------------------------
# Evaluators: one per enabled rule; check() returns an explanation when the rule fires
# --------------------------------------------------------------------------------------------


def _usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{frac:02d} USD"


def _minutes_text(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} min"


class _Evaluator:
    __slots__ = ("rule_id", "score", "trans_types", "slot")

    def __init__(self, rule: Rule, slot: int):
        self.rule_id = rule.id
        self.score = rule.score
        self.trans_types = frozenset(rule.trans_types) if rule.trans_types is not None else None
        self.slot = slot  # index of this rule's window on a timeline

    def window(self, line: _Timeline, span_us: int, track_countries: bool = False) -> _Window:
        w = line.windows[self.slot]
        if w is None:
            w = line.windows[self.slot] = _Window(line, span_us, track_countries)
        return w

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        raise NotImplementedError


class _HighValue(_Evaluator):
    __slots__ = ("min_cents",)

    def __init__(self, rule: Rule, slot: int):
        super().__init__(rule, slot)
        assert isinstance(rule.params, HighValueParams)
        self.min_cents = rule.params.min_cents

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        if tx.amount_cents < self.min_cents:
            return None
        kind = "real-time" if tx.trans_type == REAL_TIME else tx.trans_type
        return f"High-value {kind} transaction: {_usd(tx.amount_cents)} >= {_usd(self.min_cents)} limit"


class _Blacklisted(_Evaluator):
    __slots__ = ()

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        return "Account is on the blacklist" if tx.account_blacklisted else None


class _Velocity(_Evaluator):
    __slots__ = ("by_card", "minutes", "span", "max_count", "max_cents")

    def __init__(self, rule: Rule, slot: int):
        super().__init__(rule, slot)
        p = rule.params
        assert isinstance(p, VelocityParams)
        self.by_card = p.key == "card"
        self.minutes = p.window_minutes
        self.span = p.window_minutes * _US_PER_MIN
        self.max_count = p.max_count
        self.max_cents = _to_cents(p.max_amount) if p.max_amount is not None else None

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        line = card if self.by_card and card is not None else account
        w = self.window(line, self.span)
        w.slide(t_us)
        count = w.count + 1  # the current transaction is inside its own window
        total = w.total + tx.amount_cents
        over_count = self.max_count is not None and count > self.max_count
        over_amount = self.max_cents is not None and total > self.max_cents
        if not (over_count or over_amount):
            return None
        key = "card" if self.by_card else "account"
        span = _minutes_text(self.minutes)
        if over_count and not over_amount:
            return f"{count} {key} transactions in {span} (limit {self.max_count})"
        limit = _usd(self.max_cents or 0)
        if over_amount and not over_count:
            return f"{count} {key} transactions totalling {_usd(total)} in {span} (limit {limit})"
        return (
            f"{count} {key} transactions totalling {_usd(total)} in {span} "
            f"(limits {self.max_count} transactions, {limit})"
        )


class _AmountSpike(_Evaluator):
    __slots__ = ("multiplier", "days", "span", "min_history", "min_cents")

    def __init__(self, rule: Rule, slot: int):
        super().__init__(rule, slot)
        p = rule.params
        assert isinstance(p, AmountSpikeParams)
        self.multiplier = p.multiplier
        self.days = p.lookback_days
        self.span = p.lookback_days * _US_PER_DAY
        self.min_history = p.min_history
        self.min_cents = _to_cents(p.min_amount)

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        amount = tx.amount_cents
        if amount < self.min_cents:
            return None
        w = self.window(account, self.span)
        w.slide(t_us)
        n, total = w.count, w.total
        # amount > multiplier * mean, without dividing; a non-positive mean is no baseline.
        if n < self.min_history or total <= 0 or amount * n <= self.multiplier * total:
            return None
        mean = total / n
        return (
            f"Amount {_usd(amount)} is {amount / mean:.1f}x the account's {self.days}-day mean "
            f"of {_usd(round(mean))} over {n} transactions (limit {self.multiplier:g}x)"
        )


class _NewCountry(_Evaluator):
    __slots__ = ("days", "span", "min_history")

    def __init__(self, rule: Rule, slot: int):
        super().__init__(rule, slot)
        p = rule.params
        assert isinstance(p, NewCountryParams)
        self.days = p.lookback_days
        self.span = p.lookback_days * _US_PER_DAY
        self.min_history = p.min_history

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        if tx.country == tx.home_country:
            return None
        w = self.window(account, self.span, track_countries=True)
        w.slide(t_us)
        if w.count < self.min_history or (w.by_country or {}).get(tx.country, 0) > 0:
            return None
        return f"First transaction from {tx.country} in {self.days} days (home {tx.home_country})"


class _CnpCategory(_Evaluator):
    __slots__ = ("categories",)

    def __init__(self, rule: Rule, slot: int):
        super().__init__(rule, slot)
        assert isinstance(rule.params, CnpCategoryParams)
        self.categories = frozenset(rule.params.categories)

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        if tx.card_presense != CARD_NOT_PRESENT or tx.merchant_category not in self.categories:
            return None
        return f"Card-not-present payment in high-risk category {tx.merchant_category}"


class _OddHours(_Evaluator):
    __slots__ = ("hours", "start", "end", "min_cents", "clock")

    def __init__(self, rule: Rule, slot: int, clock: _LocalClock):
        super().__init__(rule, slot)
        p = rule.params
        assert isinstance(p, OddHoursParams)
        self.start, self.end = p.start_hour, p.end_hour
        self.hours = tuple(_in_hour_range(h, p.start_hour, p.end_hour) for h in range(24))
        self.min_cents = _to_cents(p.min_amount)
        self.clock = clock

    def check(self, tx: Transaction, t_us: int, account: _Timeline, card: _Timeline | None) -> str | None:
        if tx.amount_cents < self.min_cents:
            return None
        local = self.clock.local_seconds(tx.home_country, t_us // 1_000_000)
        hour = local // 3600 % 24
        if not self.hours[hour]:
            return None
        zone = self.clock.zone(tx.home_country)
        return (
            f"Transaction at {hour:02d}:{local // 60 % 60:02d} local time ({zone}), "
            f"inside odd hours {self.start:02d}:00-{self.end:02d}:00"
        )


def _in_hour_range(hour: int, start: int, end: int) -> bool:
    """hour in [start, end), wrapping midnight when start > end."""
    return start <= hour < end if start < end else hour >= start or hour < end


def _build_evaluators(rule_set: RuleSet) -> list[_Evaluator]:
    clock = _LocalClock()
    evaluators: list[_Evaluator] = []
    for slot, rule in enumerate(rule_set.enabled_rules):
        if rule.type == "odd_hours":
            evaluators.append(_OddHours(rule, slot, clock))
        else:
            evaluators.append(_EVALUATORS[rule.type](rule, slot))
    return evaluators


_EVALUATORS: dict[str, Callable[[Rule, int], _Evaluator]] = {
    "high_value": _HighValue,
    "blacklisted_account": _Blacklisted,
    "velocity": _Velocity,
    "amount_spike": _AmountSpike,
    "new_country": _NewCountry,
    "cnp_high_risk_category": _CnpCategory,
}


def _order(tx: Transaction) -> tuple[datetime, Any]:
    return (tx.timestamp, tx.uniq_id)


def score_batch(transactions: list[Transaction], history: History, rule_set: RuleSet) -> ScoreSummary:
    """Score every transaction in place (rule_hits, risk_score, decision, ...); return batch counts.

    Transactions are processed in (timestamp, uniq_id) order; each rule sees the account's
    history plus the batch's earlier transactions. ``trans_types`` restricts which transactions
    a rule is evaluated on, not which transactions count as history.
    """
    evaluators = _build_evaluators(rule_set)
    need_cards = any(isinstance(e, _Velocity) and e.by_card for e in evaluators)
    lines = _Timelines(history, rule_set.lookback, len(evaluators))
    summary = ScoreSummary(
        rows=len(transactions),
        decisions=dict.fromkeys(DECISIONS, 0),
        hits_by_rule={e.rule_id: 0 for e in evaluators},
        rule_set_version=rule_set.version,
    )
    for tx in sorted(transactions, key=_order):
        t_us = _micros(tx.timestamp)
        account = lines.account(tx, t_us)
        card = lines.card(tx, t_us) if need_cards else None
        hits: list[RuleHit] = []
        for ev in evaluators:
            if ev.trans_types is not None and tx.trans_type not in ev.trans_types:
                continue
            explanation = ev.check(tx, t_us, account, card)
            if explanation is not None:
                hits.append(RuleHit(ev.rule_id, ev.score, explanation))
                summary.hits_by_rule[ev.rule_id] += 1
        account.append(t_us, tx.amount_cents, tx.country)
        if card is not None:
            card.append(t_us, tx.amount_cents, tx.country)
        _apply(tx, hits, rule_set)
        summary.decisions[tx.decision] += 1  # type: ignore[index]
        summary.total_risk_score += tx.risk_score
    return summary


def _apply(tx: Transaction, hits: list[RuleHit], rule_set: RuleSet) -> None:
    """Write the scoring fields of one transaction from its rule hits."""
    tx.rule_hits = hits
    tx.risk_score = min(MAX_RISK_SCORE, sum([h.score for h in hits]))
    tx.decision = rule_set.decide(tx.risk_score)
    if len(hits) == 1:
        tx.rules_triggered, tx.rules_explanation = hits[0].rule_id, hits[0].explanation
    elif hits:
        tx.rules_triggered = ", ".join([h.rule_id for h in hits])
        tx.rules_explanation = "; ".join([h.explanation for h in hits])
    else:
        tx.rules_triggered = NO_RULES_TRIGGERED
        tx.rules_explanation = NO_HITS_EXPLANATION
    tx.rule_set_version = rule_set.version
