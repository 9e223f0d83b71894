"""The transactions of one data window, as a pure function of (settings, window).

Legitimate traffic samples the stable population: an account by its activity, one of its cards,
a merchant by category (in the home country, or abroad in the country the account travels to that
week), an amount from the category's log-normal profile scaled by the account's spending habit,
and a card-present flag from the category's profile. The arrival rate follows a time-of-day curve.
On top of it, injected fraud scenarios carry a ground-truth label in ``fraud_scenario``; they use
the same merchants, channels and fields as legitimate traffic, so nothing but the label tells them
apart.

Rows are drawn as columns (:class:`~banking.batch.Batch`) with one NumPy generator seeded from
(settings, window): a window of 100,000 transactions takes a few tens of milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from banking.countries import COUNTRIES
from banking.model import (
    CHANNELS,
    MERCHANT_CATEGORIES,
    SCENARIOS,
    TRANS_TYPES,
    Window,
    micros,
)
from banking.stream.batch import COUNTRY_CODES, NO_SCENARIO, Batch, PopulationTables, tables_for
from banking.stream.population import population_for, stable_seed
from banking.stream.profiles import CATEGORY_PROFILE, CATEGORY_WEIGHT
from banking.stream.settings import GeneratorSettings

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
ABROAD_SHARE = 0.02  # legitimate transactions made while travelling (to one country a week)
# Mix of injected scenarios: (label, relative frequency, mean transactions per incident).
SCENARIO_MIX = (
    ("card_testing", 0.3, 10.0),
    ("account_takeover", 0.2, 2.0),
    ("blacklisted_account", 0.3, 2.0),
    ("high_value_spike", 0.2, 1.0),
)
_US = 1_000_000  # microseconds per second
MINUTE_US = 60 * _US
_US_PER_WEEK = 7 * 24 * 60 * MINUTE_US
# The longest time from an injected incident's first row to its last (blacklisted_account: 3 rows
# 120 s apart at most), and so how many minutes after its start minute an incident can reach.
MAX_INCIDENT_US = 240 * _US
SPILL_MINUTES = -(-MAX_INCIDENT_US // MINUTE_US)
_N_CATEGORIES = len(MERCHANT_CATEGORIES)
_CATEGORY = {c: i for i, c in enumerate(MERCHANT_CATEGORIES)}
_CATEGORY_CUM = np.cumsum([CATEGORY_WEIGHT[c] for c in MERCHANT_CATEGORIES], dtype=np.float64)
_CATEGORY_MEDIAN = np.array([CATEGORY_PROFILE[c][0] for c in MERCHANT_CATEGORIES])
_CATEGORY_SIGMA = np.array([CATEGORY_PROFILE[c][1] for c in MERCHANT_CATEGORIES])
_CATEGORY_PRESENT = np.array([CATEGORY_PROFILE[c][2] for c in MERCHANT_CATEGORIES])
_TRANS_TYPE_CUM = np.cumsum([dict(TRANS_TYPE_MIX)[t] for t in TRANS_TYPES])
_RATE = np.array([COUNTRIES[c].units_per_usd for c in COUNTRY_CODES])
_CHANNEL = {c: i for i, c in enumerate(CHANNELS)}
_SCENARIO_SHARE = np.array([share for _, share, _ in SCENARIO_MIX]) / sum(s for _, s, _ in SCENARIO_MIX)
_MEAN_INCIDENT_SIZE = float(_SCENARIO_SHARE @ np.array([size for _, _, size in SCENARIO_MIX]))


def generate_batch(settings: GeneratorSettings, window: Window) -> Batch:
    """All transactions of ``window``, sorted by (timestamp, uniq_id). Same inputs, same rows.

    The stream is a pure function of time: each minute's rows are drawn from generators seeded by
    the settings and that minute alone, so a window holds exactly the rows of its minutes however
    the time is cut. Legitimate rows fall inside their minute; an injected incident belongs to the
    minute it starts in and may run on into the next ``SPILL_MINUTES`` minutes, so a window also
    draws the incidents of the minutes just before it and keeps their rows that fall inside it.
    """
    tables = tables_for(population_for(settings))
    start_us, end_us = micros(window.start), micros(window.end)
    first, stop = start_us // MINUTE_US, -(-end_us // MINUTE_US)
    parts = []
    for minute in range(first - SPILL_MINUTES, stop):
        expected = settings.rate_per_minute * minute_intensity(minute)
        fraud_expected = expected * settings.fraud_rate
        if minute >= first:
            rng = _minute_rng(settings, minute, "legitimate")
            count = int(rng.poisson(max(expected - fraud_expected, 0.0)))
            parts.append(_Draw(rng, tables).legitimate(_times_in_minute(rng, minute, count)))
        if fraud_expected > 0:
            parts.extend(_incidents(_minute_rng(settings, minute, "fraud"), tables, minute, fraud_expected))
    return _assemble(window, tables, parts)


def minute_intensity(minute: int) -> float:
    """The relative arrival rate (mean 1.0) of the minute ``minute`` minutes after the epoch."""
    return HOURLY_INTENSITY[minute // 60 % 24] / _MEAN_INTENSITY


def trip_destinations(accounts: np.ndarray, t_us: np.ndarray) -> np.ndarray:
    """Where each account travels in the week of ``t_us``, as an index among the countries other than
    its home (0 to len(COUNTRY_CODES) - 2): a pure function of (account, week), so that an account's
    payments abroad in a week are in one country, as on a trip, not each in a country of its own."""
    week = (t_us // _US_PER_WEEK).astype(np.uint64)
    with np.errstate(over="ignore"):  # wrapping multiplications: a hash
        h = accounts.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + week * np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(29)
    return (h % np.uint64(len(COUNTRY_CODES) - 1)).astype(np.int64)


def _minute_rng(settings: GeneratorSettings, minute: int, stream: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(stable_seed(settings.digest, minute, stream)))


def _times_in_minute(rng: np.random.Generator, minute: int, n: int) -> np.ndarray:
    return minute * MINUTE_US + (rng.random(n) * MINUTE_US).astype(np.int64)


def _incidents(
    rng: np.random.Generator, tables: PopulationTables, minute: int, expected: float
) -> list[dict]:
    """The injected incidents that start in ``minute``, one part per scenario."""
    draw = _Draw(rng, tables)
    incidents = int(rng.poisson(expected / _MEAN_INCIDENT_SIZE))
    labels = rng.choice(len(SCENARIO_MIX), size=incidents, p=_SCENARIO_SHARE)
    starts = _times_in_minute(rng, minute, incidents)
    parts = []
    for label, (name, _, _) in enumerate(SCENARIO_MIX):
        mine = starts[labels == label]
        if len(mine):
            parts.append(INJECTORS[name](draw, mine))
    return parts


class _Draw:
    """Draws rows for one window: columns of transactions made by given accounts at given times."""

    def __init__(self, rng: np.random.Generator, tables: PopulationTables) -> None:
        self.rng = rng
        self.tables = tables

    def accounts(self, n: int) -> np.ndarray:
        cum = self.tables.account_cum_weights
        return np.minimum(np.searchsorted(cum, self.rng.random(n) * cum[-1], side="right"), len(cum) - 1)

    def cards(self, accounts: np.ndarray) -> np.ndarray:
        p = self.tables.population
        return p.first_card[accounts] + (self.rng.random(len(accounts)) * p.card_count[accounts]).astype(
            np.int32
        )

    def places(self, accounts: np.ndarray, abroad: np.ndarray, t_us: np.ndarray | None = None) -> np.ndarray:
        """The country of each transaction: home, or another country when abroad: the account's
        destination of the week (:func:`trip_destinations`) at the times ``t_us``, else (a scenario's
        incidents) a country drawn at random."""
        home = self.tables.population.home[accounts].astype(np.int64)
        other = self.rng.integers(0, len(COUNTRY_CODES) - 1, size=len(accounts))
        if t_us is not None:
            other = trip_destinations(accounts, t_us)
        return np.where(abroad, other + (other >= home), home)

    def amounts(self, median: np.ndarray, sigma: np.ndarray, factor: np.ndarray) -> np.ndarray:
        """Positive amounts in cents, log-normal around ``median`` USD."""
        z = self.rng.standard_normal(len(median))
        return np.maximum(1, np.rint(100 * median * factor * np.exp(sigma * z))).astype(np.int64)

    def legitimate(
        self, t_us: np.ndarray, accounts: np.ndarray | None = None, scenario: int = NO_SCENARIO
    ) -> dict:
        rng, n = self.rng, len(t_us)
        accounts = self.accounts(n) if accounts is None else accounts
        cards = self.cards(accounts)
        category = np.minimum(
            np.searchsorted(_CATEGORY_CUM, rng.random(n) * _CATEGORY_CUM[-1], side="right"), _N_CATEGORIES - 1
        )
        abroad = rng.random(n) < ABROAD_SHARE
        amount = self.amounts(
            _CATEGORY_MEDIAN[category], _CATEGORY_SIGMA[category], self.tables.population.spend[accounts]
        )
        trans_type = np.minimum(
            np.searchsorted(_TRANS_TYPE_CUM, rng.random(n) * _TRANS_TYPE_CUM[-1], side="right"),
            len(TRANS_TYPES) - 1,
        )
        present = rng.random(n) < _CATEGORY_PRESENT[category]
        return self.rows(
            t_us,
            accounts,
            cards,
            category,
            self.places(accounts, abroad, t_us),
            amount,
            present,
            trans_type,
            scenario,
        )

    def incident_rows(
        self,
        incident: np.ndarray,
        times: np.ndarray,
        per_incident: tuple[np.ndarray, np.ndarray, np.ndarray],
        per_row: tuple[np.ndarray, np.ndarray, np.ndarray],
        scenario: str,
    ) -> dict:
        """The rows of a scenario's incidents: each row takes its incident's account, card and country
        (``per_incident``) and has its own category, amount and card presence (``per_row``)."""
        accounts, cards, country = (values[incident] for values in per_incident)
        category, amount, present = per_row
        return self.rows(
            times, accounts, cards, category, country, amount, present, scenario=SCENARIOS.index(scenario)
        )

    def rows(
        self,
        t_us: np.ndarray,
        accounts: np.ndarray,
        cards: np.ndarray,
        category: np.ndarray,
        country: np.ndarray,
        amount: np.ndarray,
        present: np.ndarray,
        trans_type: np.ndarray | int = 0,
        scenario: int = NO_SCENARIO,
    ) -> dict:
        rng, t, n = self.rng, self.tables, len(t_us)
        place = country * _N_CATEGORIES + category
        merchant = t.place_merchants[
            t.place_first[place] + (rng.random(n) * t.place_count[place]).astype(np.int64)
        ]
        u = rng.random(n)
        channel = np.where(
            present,
            np.where((category == _CATEGORY["Retail"]) & (u < 0.05), _CHANNEL["atm"], _CHANNEL["pos"]),
            np.where(
                category == _CATEGORY["Utilities"],
                _CHANNEL["transfer"],
                np.where(u < 0.45, _CHANNEL["mobile"], _CHANNEL["ecommerce"]),
            ),
        )
        uniq = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
        uniq[:, 6] = (uniq[:, 6] & 0x0F) | 0x40  # a version-4 UUID
        uniq[:, 8] = (uniq[:, 8] & 0x3F) | 0x80
        return {
            "t_us": np.asarray(t_us, dtype=np.int64),
            "uniq": uniq,
            "trans_type": np.broadcast_to(np.asarray(trans_type, dtype=np.int8), (n,)),
            "channel": channel.astype(np.int8),
            "amount_cents": np.asarray(amount, dtype=np.int64),
            "amount_crr_cents": np.rint(amount * _RATE[t.population.home[accounts]]).astype(np.int64),
            "account": np.asarray(accounts, dtype=np.int32),
            "card": np.asarray(cards, dtype=np.int32),
            "merchant": merchant.astype(np.int32),
            "present": np.asarray(present, dtype=bool),
            "scenario": np.full(n, scenario, dtype=np.int8),
        }

    def choose(self, options: tuple[str, ...], n: int) -> np.ndarray:
        """``n`` category indices chosen uniformly from ``options``."""
        picks = np.array([_CATEGORY[c] for c in options])
        return picks[self.rng.integers(0, len(options), size=n)]


def _card_testing(d: _Draw, starts: np.ndarray) -> dict:
    """Per incident: many small card-not-present payments on one card within about two minutes."""
    rng, k = d.rng, len(starts)
    accounts = d.accounts(k)
    cards = d.cards(accounts)
    country = d.places(accounts, rng.random(k) < 0.5)
    category = d.choose(("Electronics", "Entertainment", "Retail"), k)
    incident, times = _runs_from(
        starts, rng.integers(5, 16, size=k), lambda n: rng.integers(2, 13, size=n) * _US
    )
    n = len(times)
    cents = rng.integers(50, 501, size=n)  # 0.50 to 5.00 USD
    per_row = (category[incident], cents, np.zeros(n, dtype=bool))
    return d.incident_rows(incident, times, (accounts, cards, country), per_row, "card_testing")


def _account_takeover(d: _Draw, starts: np.ndarray) -> dict:
    """Per incident: a sudden run of large payments from a country the account never used."""
    rng, k = d.rng, len(starts)
    accounts = d.accounts(k)
    cards = d.cards(accounts)
    country = d.places(accounts, np.ones(k, dtype=bool))
    incident, times = _runs_from(
        starts, rng.integers(1, 4, size=k), lambda n: rng.integers(20, 91, size=n) * _US
    )
    n = len(times)
    category = d.choose(("Electronics", "Travel", "Retail"), n)
    amount = d.amounts(np.full(n, 1500.0), np.full(n, 0.5), np.ones(n))
    per_row = (category, amount, rng.random(n) < 0.15)
    return d.incident_rows(incident, times, (accounts, cards, country), per_row, "account_takeover")


def _blacklisted_account(d: _Draw, starts: np.ndarray) -> dict:
    """Per incident: ordinary-looking payments by an account on the blacklist."""
    rng, k = d.rng, len(starts)
    pool = d.tables.population.listed_account
    if not len(pool):
        return {}
    accounts = pool[rng.integers(0, len(pool), size=k)]
    counts = rng.integers(1, 4, size=k)
    incident = np.repeat(np.arange(k), counts)
    step = rng.integers(30, 121, size=len(incident)) * _US
    times = starts[incident] + _position_in_run(counts) * step
    return d.legitimate(times, accounts[incident], scenario=SCENARIOS.index("blacklisted_account"))


def _high_value_spike(d: _Draw, starts: np.ndarray) -> dict:
    """Per incident: one payment 5 to 20 times what the account usually spends in that category."""
    rng, k = d.rng, len(starts)
    accounts = d.accounts(k)
    category = d.choose(("Electronics", "Travel", "Retail", "Clothing"), k)
    usual = d.amounts(
        _CATEGORY_MEDIAN[category], _CATEGORY_SIGMA[category] / 2, d.tables.population.spend[accounts]
    )
    amount = np.rint(usual * rng.uniform(5, 20, size=k)).astype(np.int64)
    cards = d.cards(accounts)
    home = d.tables.population.home[accounts].astype(np.int64)
    return d.rows(
        starts,
        accounts,
        cards,
        category,
        home,
        amount,
        rng.random(k) < _CATEGORY_PRESENT[category],
        scenario=SCENARIOS.index("high_value_spike"),
    )


def _runs_from(
    starts: np.ndarray, counts: np.ndarray, gaps: Callable[[int], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Runs of ``counts[i]`` rows from ``starts[i]``, spaced by ``gaps(n)``: each row's incident
    index and time (the first row of a run at its start)."""
    incident = np.repeat(np.arange(len(starts)), counts)
    step = gaps(len(incident))
    first = np.cumsum(counts) - counts  # each run's first row
    step[first] = 0
    elapsed = np.cumsum(step)
    return incident, starts[incident] + elapsed - elapsed[first][incident]


def _position_in_run(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each run of ``counts[i]`` rows."""
    first = np.cumsum(counts) - counts
    return np.arange(int(counts.sum())) - np.repeat(first, counts)


# Each draws all incidents of its scenario in the window at once, from their start times.
INJECTORS: dict[str, Callable[[_Draw, np.ndarray], dict]] = {
    "card_testing": _card_testing,
    "account_takeover": _account_takeover,
    "blacklisted_account": _blacklisted_account,
    "high_value_spike": _high_value_spike,
}


def _assemble(window: Window, tables: PopulationTables, parts: list[dict]) -> Batch:
    """Concatenate the drawn parts, keep the rows inside the window and sort by (timestamp, uniq_id)."""
    parts = [p for p in parts if p]
    columns = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    t_us = columns["t_us"]
    inside = np.flatnonzero((t_us >= micros(window.start)) & (t_us < micros(window.end)))
    order = inside[_time_then_id_order(t_us[inside], columns["uniq"][inside])]
    return Batch(
        window=window, tables=tables, **{name: np.ascontiguousarray(c[order]) for name, c in columns.items()}
    )


def _time_then_id_order(t_us: np.ndarray, uniq: np.ndarray) -> np.ndarray:
    """The order of (timestamp, uniq_id): a sort by time, with the few equal timestamps (clamped to
    the window's end, or drawn twice) ordered by id."""
    order = np.argsort(t_us, kind="stable")
    ts = t_us[order]
    tied = np.flatnonzero(ts[1:] == ts[:-1])
    if len(tied):
        ids = uniq[order]
        for start, stop in _runs(tied):
            group = order[start : stop + 1]
            order[start : stop + 1] = group[
                np.argsort(ids[start : stop + 1].view("S16").ravel(), kind="stable")
            ]
    return order


def _runs(tied: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) positions of each run of equal timestamps, from the positions ``i`` where
    ``ts[i] == ts[i + 1]``."""
    runs: list[tuple[int, int]] = []
    for i in tied.tolist():
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs
