"""One evaluator per rule type: each returns (fired, explain), where explain(rows) gives the
explanation texts of the given rows (all of which fired), byte for byte as documented."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from banking.model import REAL_TIME
from banking.rules.local_time import home_zone
from banking.rules.prepared import PreparedRows
from banking.rules.rule_set import (
    AmountSpikeParams,
    CnpCategoryParams,
    HighValueParams,
    NewCountryParams,
    OddHoursParams,
    Rule,
    VelocityParams,
    to_cents,
)

_US_PER_MIN = 60_000_000
_US_PER_DAY = 86_400_000_000
_EXACT_FLOAT = float(2**52)  # below this, int64 products compare exactly as float64


_Explain = Callable[[np.ndarray], list[str]]
_Evaluator = Callable[[Rule, PreparedRows], tuple[np.ndarray, _Explain]]


def _usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{frac:02d} USD"


def _minutes_text(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes >= 60 and minutes % 60 == 0 else f"{minutes} min"


def _in_hour_range(hour: int, start: int, end: int) -> bool:
    """hour in [start, end), wrapping midnight when start > end."""
    return start <= hour < end if start < end else hour >= start or hour < end


def _high_value(rule: Rule, b: PreparedRows) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, HighValueParams)
    min_cents = p.min_cents
    fired = b.amount >= min_cents

    def explain(where: np.ndarray) -> list[str]:
        limit = _usd(min_cents)
        kinds = ["real-time" if name == REAL_TIME else name for name in b.rows.trans_type_names]
        return [
            f"High-value {kinds[k]} transaction: {_usd(a)} >= {limit} limit"
            for k, a in zip(b.trans_type[where].tolist(), b.amount[where].tolist(), strict=True)
        ]

    return fired, explain


def _blacklisted(rule: Rule, b: PreparedRows) -> tuple[np.ndarray, _Explain]:
    fired = np.array(b.rows.blacklisted, bool)
    return fired, lambda where: ["Account is on the blacklist"] * len(where)


def _velocity(rule: Rule, b: PreparedRows) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, VelocityParams)
    key = p.key
    span = p.window_minutes * _US_PER_MIN
    max_cents = to_cents(p.max_amount) if p.max_amount is not None else None
    grouping = b.grouping(key)
    count = grouping.count(span) + 1  # the current transaction is inside its own window
    over_count = count > p.max_count if p.max_count is not None else np.zeros(len(b), bool)
    if max_cents is not None:
        total = grouping.total(span) + b.amount
        over_amount = total > max_cents
    else:
        total, over_amount = None, np.zeros(len(b), bool)

    def explain(where: np.ndarray) -> list[str]:
        span_text = _minutes_text(p.window_minutes)
        totals = total[where].tolist() if total is not None else [0] * len(where)
        limit = _usd(max_cents or 0)
        texts = []
        for n, tot, by_count, by_amount in zip(
            count[where].tolist(),
            totals,
            over_count[where].tolist(),
            over_amount[where].tolist(),
            strict=True,
        ):
            if by_count and not by_amount:
                texts.append(f"{n} {key} transactions in {span_text} (limit {p.max_count})")
            elif by_amount and not by_count:
                texts.append(f"{n} {key} transactions totalling {_usd(tot)} in {span_text} (limit {limit})")
            else:
                texts.append(
                    f"{n} {key} transactions totalling {_usd(tot)} in {span_text} "
                    f"(limits {p.max_count} transactions, {limit})"
                )
        return texts

    return over_count | over_amount, explain


def _amount_spike(rule: Rule, b: PreparedRows) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, AmountSpikeParams)
    span = p.lookback_days * _US_PER_DAY
    grouping = b.grouping("account")
    n, total = grouping.count(span), grouping.total(span)
    amount = b.amount
    candidate = (amount >= to_cents(p.min_amount)) & (n >= p.min_history) & (total > 0)
    # amount > multiplier * mean, without dividing: amount * n > multiplier * total, compared in
    # float64 where that is exact (< 2**52) and in Python integers/floats where it may not be.
    lhs = amount * n.astype(np.float64)
    rhs = float(p.multiplier) * total.astype(np.float64)
    exact = (np.abs(lhs) < _EXACT_FLOAT) & (np.abs(rhs) < _EXACT_FLOAT)
    fired = candidate & exact & (lhs > rhs)
    for i in np.flatnonzero(candidate & ~exact).tolist():
        fired[i] = int(amount[i]) * int(n[i]) > p.multiplier * int(total[i])

    def explain(where: np.ndarray) -> list[str]:
        texts = []
        for a, k, tot in zip(amount[where].tolist(), n[where].tolist(), total[where].tolist(), strict=True):
            mean = tot / k
            texts.append(
                f"Amount {_usd(a)} is {a / mean:.1f}x the account's {p.lookback_days}-day mean "
                f"of {_usd(round(mean))} over {k} transactions (limit {p.multiplier:g}x)"
            )
        return texts

    return fired, explain


def _new_country(rule: Rule, b: PreparedRows) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, NewCountryParams)
    foreign = b.country != b.home
    if not foreign.any():
        return foreign, lambda where: []
    span = p.lookback_days * _US_PER_DAY
    seen = b.grouping("account_country").count(span)
    fired = foreign & (b.grouping("account").count(span) >= p.min_history) & (seen == 0)

    def explain(where: np.ndarray) -> list[str]:
        codes = b.rows.countries
        return [
            f"First transaction from {codes[c]} in {p.lookback_days} days (home {codes[h]})"
            for c, h in zip(b.country[where].tolist(), b.home[where].tolist(), strict=True)
        ]

    return fired, explain


def _cnp_category(rule: Rule, b: PreparedRows) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, CnpCategoryParams)
    names = b.rows.category_names
    risky = np.array([name in p.categories for name in names], bool)
    fired = ~np.asarray(b.rows.card_present, bool) & risky[b.category]
    texts = [f"Card-not-present payment in high-risk category {name}" for name in names]
    return fired, lambda where: [texts[c] for c in b.category[where].tolist()]


def _odd_hours(rule: Rule, b: PreparedRows) -> tuple[np.ndarray, _Explain]:
    p = rule.params
    assert isinstance(p, OddHoursParams)
    in_range = np.array([_in_hour_range(h, p.start_hour, p.end_hour) for h in range(24)], bool)
    candidate = b.amount >= to_cents(p.min_amount)
    if not candidate.any():
        return candidate, lambda where: []
    local = b.local_seconds()
    fired = candidate & in_range[local // 3600 % 24]

    def explain(where: np.ndarray) -> list[str]:
        zones = [str(home_zone(code)) for code in b.rows.countries]
        return [
            f"Transaction at {s // 3600 % 24:02d}:{s // 60 % 60:02d} local time ({zones[h]}), "
            f"inside odd hours {p.start_hour:02d}:00-{p.end_hour:02d}:00"
            for s, h in zip(local[where].tolist(), b.home[where].tolist(), strict=True)
        ]

    return fired, explain


EVALUATORS: dict[str, _Evaluator] = {
    "high_value": _high_value,
    "blacklisted_account": _blacklisted,
    "velocity": _velocity,
    "amount_spike": _amount_spike,
    "new_country": _new_country,
    "cnp_high_risk_category": _cnp_category,
    "odd_hours": _odd_hours,
}
