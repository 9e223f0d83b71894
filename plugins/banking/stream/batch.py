"""A window's transactions as columns: NumPy arrays indexing into the population's tables.

The generator draws a :class:`Batch`, the rules score its columns, and the loader encodes it for
COPY, without building one Python object per transaction.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

import numpy as np

from banking.model import MERCHANT_CATEGORIES, SCENARIOS, Window
from banking.stream.population import COUNTRY_CODES, Population

NO_SCENARIO = -1


@dataclass(frozen=True, eq=False)
class IdIndex:
    """Positions of UUIDs (as 16-byte strings) in a list, looked up a whole array at a time."""

    sorted_ids: np.ndarray  # S16
    positions: np.ndarray  # int32: where each sorted id sits in the list

    @classmethod
    def of(cls, ids: list[UUID]) -> IdIndex:
        return cls.of_bytes(np.array([u.bytes for u in ids], dtype="S16"))

    @classmethod
    def of_bytes(cls, raw: np.ndarray) -> IdIndex:
        """The index of ids given as an S16 array."""
        order = np.argsort(raw, kind="stable")
        return cls(raw[order], order.astype(np.int32))

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
    """The population's sampling and lookup tables; its columns are ``population``'s own."""

    population: Population
    account_cum_weights: np.ndarray  # float64, for sampling accounts by activity
    place_first: np.ndarray  # int32, per place (country * categories + category): first of its merchants
    place_count: np.ndarray  # int32, per place: how many merchants
    place_merchants: np.ndarray  # int32 merchant indices, grouped by place
    account_ids: IdIndex
    card_ids: IdIndex

    @property
    def version(self) -> str:
        return self.population.version


def tables_for(population: Population) -> PopulationTables:
    """The tables of ``population`` (built once per process and population)."""
    tables = _TABLES.get(population.version)
    if tables is None or tables.population is not population:
        if len(_TABLES) >= 4:
            _TABLES.clear()
        tables = _TABLES[population.version] = _build_tables(population)
    return tables


_TABLES: dict[str, PopulationTables] = {}


def _build_tables(p: Population) -> PopulationTables:
    place = p.merchant_country.astype(np.int64) * len(MERCHANT_CATEGORIES) + p.merchant_category
    n_places = len(COUNTRY_CODES) * len(MERCHANT_CATEGORIES)
    place_count = np.bincount(place, minlength=n_places).astype(np.int32)
    place_first = np.zeros(n_places, dtype=np.int32)
    place_first[1:] = np.cumsum(place_count)[:-1]
    # Blacklisted accounts are partly blocked: they transact about half as often on their own.
    weights = p.activity.astype(np.float64) * np.where(p.blacklisted, 0.5, 1.0)
    return PopulationTables(
        population=p,
        account_cum_weights=np.cumsum(weights),
        place_first=place_first,
        place_count=place_count,
        place_merchants=np.argsort(place, kind="stable").astype(np.int32),
        account_ids=IdIndex.of_bytes(p.account_id),
        card_ids=IdIndex.of_bytes(p.card_ref),
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
    account: np.ndarray  # int32 account index in the population
    card: np.ndarray  # int32 card index in the population
    merchant: np.ndarray  # int32 merchant index in the population
    present: np.ndarray  # bool: card present
    scenario: np.ndarray  # int8 index into SCENARIOS, NO_SCENARIO for legitimate rows

    def __len__(self) -> int:
        return len(self.t_us)

    @property
    def country(self) -> np.ndarray:
        """Where each transaction happened (the merchant's country), as an index into COUNTRY_CODES."""
        return self.tables.population.merchant_country[self.merchant]

    @property
    def home_country(self) -> np.ndarray:
        return self.tables.population.home[self.account]

    @property
    def category(self) -> np.ndarray:
        return self.tables.population.merchant_category[self.merchant]

    @property
    def blacklisted(self) -> np.ndarray:
        return self.tables.population.blacklisted[self.account]

    def fingerprint(self) -> str:
        """A digest of the ids and amounts: equal batches, equal fingerprints."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.uniq).tobytes())
        digest.update(self.amount_cents.astype(">i8").tobytes())
        return digest.hexdigest()[:32]

    def scenario_counts(self) -> dict[str, int]:
        counts = np.bincount(self.scenario[self.scenario >= 0], minlength=len(SCENARIOS))
        return {label: int(n) for label, n in zip(SCENARIOS, counts, strict=True) if n}
