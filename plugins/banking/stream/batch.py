"""A window's transactions as columns: NumPy arrays indexing into the population's tables.

The generator draws a :class:`Batch`, the rules score its columns, and the loader encodes it for
COPY, without building one Python object per transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

import numpy as np

from banking.countries import COUNTRIES
from banking.model import MERCHANT_CATEGORIES, SCENARIOS, Window
from banking.stream.population import Card, Population

COUNTRY_CODES: tuple[str, ...] = tuple(COUNTRIES)
NO_SCENARIO = -1


@dataclass(frozen=True, eq=False)
class IdIndex:
    """Positions of UUIDs (as 16-byte strings) in a list, looked up a whole array at a time."""

    sorted_ids: np.ndarray  # S16
    positions: np.ndarray  # int64: where each sorted id sits in the list

    @classmethod
    def of(cls, ids: list[UUID]) -> IdIndex:
        raw = np.array([u.bytes for u in ids], dtype="S16")
        order = np.argsort(raw, kind="stable")
        return cls(raw[order], order.astype(np.int64))

    def positions_of(self, ids: np.ndarray) -> np.ndarray:
        """The list position of each id; ids not in the list get len(list), len(list) + 1, ... (equal
        ids, equal keys)."""
        n = len(self.sorted_ids)
        at = np.minimum(np.searchsorted(self.sorted_ids, ids), max(n - 1, 0))
        found = self.sorted_ids[at] == ids if n else np.zeros(len(ids), dtype=bool)
        keys = np.where(found, self.positions[at] if n else 0, -1)
        if not found.all():
            _, unknown = np.unique(ids[~found], return_inverse=True)
            keys[~found] = n + unknown
        return keys


@dataclass(frozen=True, eq=False)
class PopulationTables:
    """The population as arrays, for sampling and for looking rows up by index."""

    population: Population
    cards: tuple[Card, ...]  # every card, account by account: a batch's ``card`` indexes this
    account_cum_weights: np.ndarray  # float64, for sampling accounts by activity
    account_home: np.ndarray  # int16 index into COUNTRY_CODES
    account_spend: np.ndarray  # float64 spend factor
    account_blacklisted: np.ndarray  # bool
    account_first_card: np.ndarray  # int32 index into ``cards``
    account_card_count: np.ndarray  # int32
    blacklisted_accounts: np.ndarray  # int32 account indices
    card_account: np.ndarray  # int32 account index of each card
    merchant_category: np.ndarray  # int8 index into MERCHANT_CATEGORIES
    merchant_country: np.ndarray  # int16 index into COUNTRY_CODES
    place_first: np.ndarray  # int32, per place (country * categories + category): first of its merchants
    place_count: np.ndarray  # int32, per place: how many merchants
    place_merchants: np.ndarray  # int32 merchant indices, grouped by place
    account_ids: IdIndex
    card_ids: IdIndex

    @property
    def version(self) -> str:
        return self.population.version


def tables_for(population: Population) -> PopulationTables:
    """The arrays of ``population`` (built once per process and population)."""
    tables = _TABLES.get(population.version)
    if tables is None or tables.population is not population:
        if len(_TABLES) >= 4:
            _TABLES.clear()
        tables = _TABLES[population.version] = _build_tables(population)
    return tables


_TABLES: dict[str, PopulationTables] = {}


def _build_tables(population: Population) -> PopulationTables:
    accounts = population.accounts
    country_index = {code: i for i, code in enumerate(COUNTRY_CODES)}
    category_index = {c: i for i, c in enumerate(MERCHANT_CATEGORIES)}
    cards = tuple(card for a in accounts for card in a.cards)
    card_counts = np.array([len(a.cards) for a in accounts], dtype=np.int32)
    first_card = np.zeros(len(accounts), dtype=np.int32)
    first_card[1:] = np.cumsum(card_counts)[:-1]
    merchants = population.merchants
    merchant_category = np.array([category_index[m.category] for m in merchants], dtype=np.int8)
    merchant_country = np.array([country_index[m.country] for m in merchants], dtype=np.int16)
    place = merchant_country.astype(np.int64) * len(MERCHANT_CATEGORIES) + merchant_category
    by_place = np.argsort(place, kind="stable").astype(np.int32)
    n_places = len(COUNTRY_CODES) * len(MERCHANT_CATEGORIES)
    place_count = np.bincount(place, minlength=n_places).astype(np.int32)
    place_first = np.zeros(n_places, dtype=np.int32)
    place_first[1:] = np.cumsum(place_count)[:-1]
    return PopulationTables(
        population=population,
        cards=cards,
        account_cum_weights=np.asarray(population.account_cum_weights, dtype=np.float64),
        account_home=np.array([country_index[a.home_country] for a in accounts], dtype=np.int16),
        account_spend=np.array([a.spend_factor for a in accounts], dtype=np.float64),
        account_blacklisted=np.array([a.blacklisted for a in accounts], dtype=bool),
        account_first_card=first_card,
        account_card_count=card_counts,
        blacklisted_accounts=np.array([i for i, a in enumerate(accounts) if a.blacklisted], dtype=np.int32),
        card_account=np.repeat(np.arange(len(accounts), dtype=np.int32), card_counts),
        merchant_category=merchant_category,
        merchant_country=merchant_country,
        place_first=place_first,
        place_count=place_count,
        place_merchants=by_place,
        account_ids=IdIndex.of([a.account_id for a in accounts]),
        card_ids=IdIndex.of([c.card_ref for c in cards]),
    )


@dataclass(frozen=True, eq=False)
class Batch:
    """The transactions of one window, sorted by (timestamp, uniq_id); every array has one entry per row."""

    window: Window
    tables: PopulationTables
    t_us: np.ndarray  # int64 µs since the epoch
    uniq: np.ndarray  # uint8 (rows, 16): the uniq_id bytes
    trans_type: np.ndarray  # int8 index into TRANS_TYPES
    channel: np.ndarray  # int8 index into CHANNELS
    amount_cents: np.ndarray  # int64, USD
    amount_crr_cents: np.ndarray  # int64, in the account's currency
    account: np.ndarray  # int32 index into population.accounts
    card: np.ndarray  # int32 index into tables.cards
    merchant: np.ndarray  # int32 index into population.merchants
    present: np.ndarray  # bool: card present
    scenario: np.ndarray  # int8 index into SCENARIOS, NO_SCENARIO for legitimate rows

    def __len__(self) -> int:
        return len(self.t_us)

    @property
    def country(self) -> np.ndarray:
        """Where each transaction happened (the merchant's country), as an index into COUNTRY_CODES."""
        return self.tables.merchant_country[self.merchant]

    @property
    def home_country(self) -> np.ndarray:
        return self.tables.account_home[self.account]

    @property
    def category(self) -> np.ndarray:
        return self.tables.merchant_category[self.merchant]

    @property
    def blacklisted(self) -> np.ndarray:
        return self.tables.account_blacklisted[self.account]

    def fingerprint(self) -> str:
        """A digest of the ids and amounts: equal batches, equal fingerprints."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.uniq).tobytes())
        digest.update(self.amount_cents.astype(">i8").tobytes())
        return digest.hexdigest()[:32]

    def scenario_counts(self) -> dict[str, int]:
        counts = np.bincount(self.scenario[self.scenario >= 0], minlength=len(SCENARIOS))
        return {label: int(n) for label, n in zip(SCENARIOS, counts, strict=True) if n}
