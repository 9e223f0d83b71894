"""The transactions of one data window, as a pure function of (settings, window).

Legitimate traffic samples the stable population: an account by its activity, one of its cards,
a merchant by category (mostly in the home country), an amount from the category's log-normal
profile scaled by the account's spending habit, and a card-present flag from the category's
profile. The arrival rate follows a time-of-day curve. On top of it, injected fraud scenarios
carry a ground-truth label in ``fraud_scenario``; they use the same merchants, channels and fields
as legitimate traffic, so nothing but the label tells them apart.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import TypeVar

from banking.countries import COUNTRIES
from banking.model import (
    CARD_NOT_PRESENT,
    CARD_PRESENT,
    MERCHANT_CATEGORIES,
    REAL_TIME,
    Transaction,
    Window,
)
from banking.population import (
    CATEGORY_PROFILE,
    CATEGORY_WEIGHT,
    Account,
    Card,
    Population,
    lognormal_amount_cents,
    new_uuid,
    population_for,
    stable_seed,
)
from banking.settings import GeneratorSettings

# Relative arrival intensity per UTC hour (mean 1.0): quiet nights, busy lunch and evening.
HOURLY_INTENSITY = (
    0.6,
    0.5,
    0.45,
    0.45,
    0.5,
    0.6,
    0.75,
    0.9,
    1.05,
    1.15,
    1.2,
    1.3,
    1.4,
    1.35,
    1.25,
    1.2,
    1.25,
    1.35,
    1.4,
    1.35,
    1.2,
    1.0,
    0.85,
    0.7,
)
_MEAN_INTENSITY = sum(HOURLY_INTENSITY) / 24
TRANS_TYPE_MIX = (("Real_time_transaction", 0.90), ("settlements", 0.07), ("dispute", 0.03))
ABROAD_SHARE = 0.02  # legitimate transactions made while travelling
# Mix of injected scenarios: (label, relative frequency, mean transactions per incident).
SCENARIO_MIX = (
    ("card_testing", 0.3, 10.0),
    ("account_takeover", 0.2, 2.0),
    ("blacklisted_account", 0.3, 2.0),
    ("high_value_spike", 0.2, 1.0),
)
_CATEGORIES = list(MERCHANT_CATEGORIES)
_CATEGORY_CUM = list(accumulate(CATEGORY_WEIGHT[c] for c in _CATEGORIES))
_TRANS_TYPES = [t for t, _ in TRANS_TYPE_MIX]
_TRANS_TYPE_CUM = list(accumulate(w for _, w in TRANS_TYPE_MIX))
_COUNTRY_CODES = list(COUNTRIES)
_US = 1_000_000  # microseconds per second
T = TypeVar("T")


def generate_window(settings: GeneratorSettings, window: Window) -> list[Transaction]:
    """All transactions of ``window``, sorted by (timestamp, uniq_id). Same inputs, same rows."""
    population = population_for(settings)
    rng = random.Random(stable_seed(settings.digest, window.start.isoformat(), window.end.isoformat()))
    segments = _intensity_segments(window)
    expected = settings.rate_per_minute * sum(weight for _, _, weight in segments) / 60.0
    fraud_expected = expected * settings.fraud_rate
    legit_count = _poisson(rng, expected - fraud_expected)
    segment_cum = list(accumulate(weight for _, _, weight in segments))

    def at_random_time() -> int:
        seg_start, seg_end, _ = _pick(rng, segments, segment_cum)
        return rng.randrange(seg_start, seg_end)

    context = _Context(rng, population, window)
    rows = [context.legitimate(at_random_time()) for _ in range(legit_count)]
    if fraud_expected > 0:
        mean_size = sum(share * size for _, share, size in SCENARIO_MIX)
        for _ in range(_poisson(rng, fraud_expected / mean_size)):
            label = rng.choices(SCENARIO_MIX, weights=[share for _, share, _ in SCENARIO_MIX])[0][0]
            rows.extend(INJECTORS[label](context, at_random_time()))
    rows.sort(key=lambda t: (t.timestamp, t.uniq_id))
    return rows


class _Context:
    """What every row of one window needs: its RNG, the population and the window bounds."""

    def __init__(self, rng: random.Random, population: Population, window: Window) -> None:
        self.rng = rng
        self.population = population
        self.window = window
        self.start_us = _micros(window.start)
        self.end_us = _micros(window.end)

    def clamp(self, t_us: int) -> int:
        return min(max(t_us, self.start_us), self.end_us - 1)

    def account(self) -> Account:
        pop = self.population
        return _pick(self.rng, pop.accounts, pop.account_cum_weights)

    def merchant_place(self, account: Account, abroad: bool) -> str:
        if not abroad:
            return account.home_country
        return self.rng.choice([c for c in _COUNTRY_CODES if c != account.home_country])

    def row(
        self,
        t_us: int,
        account: Account,
        card: Card,
        category: str,
        country: str,
        amount_cents: int,
        present: bool,
        trans_type: str = REAL_TIME,
        scenario: str | None = None,
    ) -> Transaction:
        rng = self.rng
        merchant = rng.choice(self.population.merchants_by_place[(country, category)])
        if present:
            channel = "atm" if category == "Retail" and rng.random() < 0.05 else "pos"
        elif category == "Utilities":
            channel = "transfer"
        else:
            channel = "mobile" if rng.random() < 0.45 else "ecommerce"
        rate = COUNTRIES[account.home_country].units_per_usd
        return Transaction(
            uniq_id=new_uuid(rng),
            timestamp=_from_micros(self.clamp(t_us)),
            window_start=self.window.start,
            window_end=self.window.end,
            trans_type=trans_type,
            channel=channel,
            amount_cents=amount_cents,
            currency=account.currency,
            amount_crr_cents=round(amount_cents * rate),
            account_id=account.account_id,
            account_holder_name=account.holder_name,
            account_blacklisted=account.blacklisted,
            home_country=account.home_country,
            card_ref=card.card_ref,
            card_id=card.masked_pan,
            card_type=card.card_type,
            card_presense=CARD_PRESENT if present else CARD_NOT_PRESENT,
            merchant_id=merchant.merchant_id,
            merchant_name=merchant.name,
            merchant_category=category,
            country=country,
            city=merchant.city,
            fraud_scenario=scenario,
        )

    def legitimate(
        self, t_us: int, account: Account | None = None, scenario: str | None = None
    ) -> Transaction:
        rng = self.rng
        account = account or self.account()
        card = rng.choice(account.cards)
        category = _pick(rng, _CATEGORIES, _CATEGORY_CUM)
        median, sigma, present_p = CATEGORY_PROFILE[category]
        abroad = rng.random() < ABROAD_SHARE
        amount = lognormal_amount_cents(rng, median, sigma, account.spend_factor)
        trans_type = _pick(rng, _TRANS_TYPES, _TRANS_TYPE_CUM)
        return self.row(
            t_us,
            account,
            card,
            category,
            self.merchant_place(account, abroad),
            amount,
            rng.random() < present_p,
            trans_type,
            scenario,
        )


def _card_testing(ctx: _Context, t_us: int) -> list[Transaction]:
    """Many small card-not-present payments on one card within about two minutes."""
    rng = ctx.rng
    account = ctx.account()
    card = rng.choice(account.cards)
    country = ctx.merchant_place(account, abroad=rng.random() < 0.5)
    category = rng.choice(("Electronics", "Entertainment", "Retail"))
    t = t_us
    rows = []
    for _ in range(rng.randint(5, 15)):
        amount = rng.randint(50, 500)  # 0.50 to 5.00 USD
        rows.append(
            ctx.row(t, account, card, category, country, amount, present=False, scenario="card_testing")
        )
        t += rng.randint(2, 12) * _US
    return rows


def _account_takeover(ctx: _Context, t_us: int) -> list[Transaction]:
    """A sudden run of large payments from a country the account never used."""
    rng = ctx.rng
    account = ctx.account()
    card = rng.choice(account.cards)
    country = ctx.merchant_place(account, abroad=True)
    rows = []
    for _ in range(rng.randint(1, 3)):
        category = rng.choice(("Electronics", "Travel", "Retail"))
        amount = lognormal_amount_cents(rng, 1500.0, 0.5)
        rows.append(
            ctx.row(
                t_us,
                account,
                card,
                category,
                country,
                amount,
                rng.random() < 0.15,
                scenario="account_takeover",
            )
        )
        t_us += rng.randint(20, 90) * _US
    return rows


def _blacklisted_account(ctx: _Context, t_us: int) -> list[Transaction]:
    """Ordinary-looking payments by an account on the blacklist."""
    rng = ctx.rng
    pool = ctx.population.blacklisted_accounts
    if not pool:
        return []
    account = rng.choice(pool)
    return [
        ctx.legitimate(t_us + i * rng.randint(30, 120) * _US, account, scenario="blacklisted_account")
        for i in range(rng.randint(1, 3))
    ]


def _high_value_spike(ctx: _Context, t_us: int) -> list[Transaction]:
    """One payment 5 to 20 times what the account usually spends in that category."""
    rng = ctx.rng
    account = ctx.account()
    category = rng.choice(("Electronics", "Travel", "Retail", "Clothing"))
    median, sigma, present_p = CATEGORY_PROFILE[category]
    amount = round(lognormal_amount_cents(rng, median, sigma / 2, account.spend_factor) * rng.uniform(5, 20))
    card = rng.choice(account.cards)
    return [
        ctx.row(
            t_us,
            account,
            card,
            category,
            account.home_country,
            amount,
            rng.random() < present_p,
            scenario="high_value_spike",
        )
    ]


INJECTORS: dict[str, Callable[[_Context, int], list[Transaction]]] = {
    "card_testing": _card_testing,
    "account_takeover": _account_takeover,
    "blacklisted_account": _blacklisted_account,
    "high_value_spike": _high_value_spike,
}


def _pick(rng: random.Random, items: Sequence[T], cum_weights: Sequence[float]) -> T:
    """``rng.choices(items, cum_weights=cum_weights)[0]``, without its per-call overhead."""
    return items[bisect_right(cum_weights, rng.random() * cum_weights[-1], 0, len(cum_weights) - 1)]


def _intensity_segments(window: Window) -> list[tuple[int, int, float]]:
    """Split the window at UTC hour boundaries: (start µs, end µs, expected-minutes weight)."""
    segments = []
    start = _micros(window.start)
    end = _micros(window.end)
    t = start
    while t < end:
        hour_start = t - t % (3600 * _US)
        seg_end = min(end, hour_start + 3600 * _US)
        hour = (t // (3600 * _US)) % 24
        weight = (seg_end - t) / _US * HOURLY_INTENSITY[hour] / _MEAN_INTENSITY
        segments.append((t, seg_end, weight))
        t = seg_end
    return segments


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (normal approximation for large means; exact and cheap for small ones)."""
    if mean <= 0:
        return 0
    if mean > 500:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    threshold, k, p = math.exp(-mean), 0, rng.random()
    while p > threshold:
        k += 1
        p *= rng.random()
    return k


_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(ts: datetime) -> int:
    delta = ts - _EPOCH_UTC
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _from_micros(t_us: int) -> datetime:
    return _EPOCH_UTC + timedelta(microseconds=t_us)
