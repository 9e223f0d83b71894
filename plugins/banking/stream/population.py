"""The stable synthetic population: accounts, cards, merchants and the blacklist, as columns.

The population is a pure function of ``GeneratorSettings.population_key``: the same seed and sizes
always give the same people, cards and shops with the same ids, so every window's transactions can
be regenerated anywhere. Faker is slow per call (tens of microseconds), so it only fills small
per-country pools (given and family names, cities, company names, card number prefixes); each
account, card and merchant is then drawn from those pools with NumPy, as one array per attribute.
Ten million accounts build in well under two minutes and fit in about 1 GB, and the arrays are cached
on disk (``.npz``) for the next process.
"""

from __future__ import annotations

import hashlib
import os
import uuid
import zipfile
import zlib
from dataclasses import dataclass, fields
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from banking.countries import COUNTRIES, Country
from banking.model import CARD_TYPES, MERCHANT_CATEGORIES
from banking.stream.settings import GeneratorSettings

BLACKLIST_REASONS = (
    "confirmed card fraud on the account",
    "chargeback abuse",
    "identity documents reported stolen",
    "sanctions screening match",
    "money-mule activity reported by another bank",
)
COUNTRY_CODES: tuple[str, ...] = tuple(COUNTRIES)
CURRENCIES: tuple[str, ...] = tuple(COUNTRIES[code].currency for code in COUNTRY_CODES)
REFERENCE_DAY = date(2020, 1, 1)  # opened_on, issued_on and listed_on count days from here
# Pool sizes per country. Names are drawn from Faker's frequency-weighted lists and kept with their
# repeats, so that common names stay common when accounts draw from the pool uniformly.
GIVEN_NAMES, FAMILY_NAMES, COMPANIES, CITIES, CARD_PREFIXES = 1000, 1000, 1000, 500, 100


@dataclass(frozen=True, slots=True)
class Card:
    card_ref: uuid.UUID
    account_id: uuid.UUID
    card_type: str
    masked_pan: str
    issued_on: date


@dataclass(frozen=True, slots=True)
class Account:
    account_id: uuid.UUID
    holder_name: str
    home_country: str
    city: str
    currency: str
    opened_on: date
    blacklisted: bool
    cards: tuple[Card, ...]


@dataclass(frozen=True, slots=True)
class Merchant:
    merchant_id: uuid.UUID
    name: str
    category: str
    country: str
    city: str


@dataclass(frozen=True, slots=True)
class BlacklistEntry:
    account_id: uuid.UUID
    reason: str
    listed_on: date


@dataclass(frozen=True, eq=False)
class Population:
    """Everything transactions are drawn from, one array per attribute.

    Accounts, cards and merchants are numbered from 0; ``account(i)``, ``card(i)`` and
    ``merchant(i)`` give one of them as an object, for display and tests.
    """

    version: str
    # Per account.
    account_id: np.ndarray  # S16: the UUID's bytes
    home: np.ndarray  # int16 index into COUNTRY_CODES
    given_name: np.ndarray  # int32 index into ``names``
    family_name: np.ndarray  # int32 index into ``names``
    city: np.ndarray  # int32 index into ``places``
    opened_day: np.ndarray  # int32 days after REFERENCE_DAY
    activity: np.ndarray  # float32 relative transaction frequency
    spend: np.ndarray  # float32: multiplies category amounts (some people spend more)
    blacklisted: np.ndarray  # bool
    first_card: np.ndarray  # int32 index of the account's first card (its cards are consecutive)
    card_count: np.ndarray  # int8
    # Per card.
    card_ref: np.ndarray  # S16
    card_account: np.ndarray  # int32
    card_type: np.ndarray  # int8 index into CARD_TYPES
    card_prefix: np.ndarray  # int32: the first six digits of the number
    card_last4: np.ndarray  # int16: the last four digits
    card_issued_day: np.ndarray  # int32
    # Per merchant.
    merchant_id: np.ndarray  # S16
    merchant_name: np.ndarray  # int32 index into ``names``
    merchant_category: np.ndarray  # int8 index into MERCHANT_CATEGORIES
    merchant_country: np.ndarray  # int16 index into COUNTRY_CODES
    merchant_city: np.ndarray  # int32 index into ``places``
    # Per blacklist entry.
    listed_account: np.ndarray  # int32, ascending
    listed_reason: np.ndarray  # int8 index into BLACKLIST_REASONS
    listed_day: np.ndarray  # int32
    # The Faker-built pools the indices above point into.
    names: np.ndarray  # str: given names, family names and company names
    places: np.ndarray  # str: city names

    @property
    def n_accounts(self) -> int:
        return len(self.account_id)

    @property
    def n_cards(self) -> int:
        return len(self.card_ref)

    @property
    def n_merchants(self) -> int:
        return len(self.merchant_id)

    def account_uuid(self, i: int) -> uuid.UUID:
        return uuid.UUID(bytes=id_bytes(self.account_id[i]))

    def account_uuids(self, indices: np.ndarray) -> list[uuid.UUID]:
        return [uuid.UUID(bytes=b) for b in raw_ids(self.account_id[indices])]

    def holder_name(self, i: int) -> str:
        return full_name(str(self.names[self.given_name[i]]), str(self.names[self.family_name[i]]))

    def currency(self, i: int) -> str:
        return CURRENCIES[self.home[i]]

    def masked_pan(self, c: int) -> str:
        return format_pan(int(self.card_prefix[c]), int(self.card_last4[c]))

    def card(self, c: int) -> Card:
        return Card(
            card_ref=uuid.UUID(bytes=id_bytes(self.card_ref[c])),
            account_id=self.account_uuid(int(self.card_account[c])),
            card_type=CARD_TYPES[self.card_type[c]],
            masked_pan=self.masked_pan(c),
            issued_on=_day(self.card_issued_day[c]),
        )

    def account(self, i: int) -> Account:
        first = int(self.first_card[i])
        return Account(
            account_id=self.account_uuid(i),
            holder_name=self.holder_name(i),
            home_country=COUNTRY_CODES[self.home[i]],
            city=str(self.places[self.city[i]]),
            currency=self.currency(i),
            opened_on=_day(self.opened_day[i]),
            blacklisted=bool(self.blacklisted[i]),
            cards=tuple(self.card(c) for c in range(first, first + int(self.card_count[i]))),
        )

    def merchant(self, m: int) -> Merchant:
        return Merchant(
            merchant_id=uuid.UUID(bytes=id_bytes(self.merchant_id[m])),
            name=str(self.names[self.merchant_name[m]]),
            category=MERCHANT_CATEGORIES[self.merchant_category[m]],
            country=COUNTRY_CODES[self.merchant_country[m]],
            city=str(self.places[self.merchant_city[m]]),
        )

    def blacklist_entry(self, k: int) -> BlacklistEntry:
        return BlacklistEntry(
            self.account_uuid(int(self.listed_account[k])),
            BLACKLIST_REASONS[self.listed_reason[k]],
            _day(self.listed_day[k]),
        )


def full_name(given: str, family: str) -> str:
    """An account holder's name as stored (``holder_name`` is varchar(100))."""
    return f"{given} {family}"[:100]


def format_pan(prefix: int, last4: int) -> str:
    """A card number as PCI DSS allows for display: the first six and last four digits (411111******1234)."""
    return f"{prefix:06d}******{last4:04d}"


def id_bytes(item: bytes) -> bytes:
    """The 16 bytes of an id taken from an S16 array (NumPy drops an S16 item's trailing zero bytes)."""
    return bytes(item).ljust(16, b"\0")


def raw_ids(ids: np.ndarray) -> list[bytes]:
    """The 16 bytes of each id of an S16 array, whole (see :func:`id_bytes`)."""
    raw = np.ascontiguousarray(ids).tobytes()
    return [raw[i : i + 16] for i in range(0, len(raw), 16)]


def stable_seed(*parts: object) -> int:
    """A seed that depends only on ``parts`` (Python's ``hash`` is salted per process, this is not)."""
    return zlib.crc32("\x1f".join(map(str, parts)).encode()) << 32 | zlib.crc32(repr(parts).encode())


def population_for(settings: GeneratorSettings) -> Population:
    """The population of ``settings``: from this process's memory, the disk cache, or built."""
    return _population(*settings.population_key, version=settings.population_version)


@lru_cache(maxsize=4)
def _population(
    seed: int, n_accounts: int, n_merchants: int, blacklist_rate: float, version: str
) -> Population:
    cache = _cache_file(version)
    if cache is not None:
        try:
            return _load(version, cache)
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile):
            pass  # missing or unreadable: build it
    population = build_population(seed, n_accounts, n_merchants, blacklist_rate, version)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npz")
            _save(population, tmp)
            tmp.replace(cache)  # atomic: readers see the whole file or none
            _remove_stale(cache)
        except OSError:
            pass  # a read-only home is fine: the next task builds it again
    return population


def build_population(
    seed: int, n_accounts: int, n_merchants: int, blacklist_rate: float, version: str = ""
) -> Population:
    """Build the population deterministically: Faker pools, then NumPy draws from them."""
    pools = _Pools(seed)
    rng = np.random.Generator(
        np.random.PCG64(stable_seed("population", seed, n_accounts, n_merchants, blacklist_rate))
    )
    n = n_accounts
    home = _countries(rng, n)
    card_count = np.where(rng.random(n) < 0.7, 1, 2).astype(np.int8)
    first_card = np.zeros(n, dtype=np.int32)
    np.cumsum(card_count[:-1], out=first_card[1:])
    opened_day = rng.integers(0, 6 * 365, size=n, dtype=np.int32)
    blacklisted = np.zeros(n, dtype=bool)
    listed = np.sort(rng.choice(n, size=round(n * blacklist_rate), replace=False)).astype(np.int32)
    blacklisted[listed] = True

    n_cards = int(card_count.sum(dtype=np.int64))
    card_account = np.repeat(np.arange(n, dtype=np.int32), card_count)
    card_type = rng.integers(0, len(CARD_TYPES), size=n_cards, dtype=np.int8)

    merchant_country, merchant_category = _merchant_places(rng, n_merchants)
    m = len(merchant_country)
    return Population(
        version=version,
        account_id=_uuids(rng, n),
        home=home,
        given_name=pools.draw(rng, "given", home),
        family_name=pools.draw(rng, "family", home),
        city=pools.draw(rng, "city", home),
        opened_day=opened_day,
        activity=rng.lognormal(0.0, 0.6, size=n).astype(np.float32),
        spend=rng.lognormal(0.0, 0.35, size=n).astype(np.float32),
        blacklisted=blacklisted,
        first_card=first_card,
        card_count=card_count,
        card_ref=_uuids(rng, n_cards),
        card_account=card_account,
        card_type=card_type,
        card_prefix=pools.card_prefixes(rng, card_type),
        card_last4=rng.integers(0, 10_000, size=n_cards, dtype=np.int16),
        card_issued_day=opened_day[card_account] + rng.integers(0, 365, size=n_cards, dtype=np.int32),
        merchant_id=_uuids(rng, m),
        merchant_name=pools.draw(rng, "company", merchant_country),
        merchant_category=merchant_category,
        merchant_country=merchant_country,
        merchant_city=pools.draw(rng, "city", merchant_country),
        listed_account=listed,
        listed_reason=rng.integers(0, len(BLACKLIST_REASONS), size=len(listed), dtype=np.int8),
        listed_day=opened_day[listed] + rng.integers(30, 600, size=len(listed), dtype=np.int32),
        names=pools.names,
        places=pools.places,
    )


class _Pools:
    """Per-country pools of Faker values, seeded by the population's seed."""

    def __init__(self, seed: int) -> None:
        from faker import Faker  # heavy import: only where a population is built

        names: list[str] = []
        places: list[str] = []
        kinds: dict[str, list[tuple[int, int]]] = {"given": [], "family": [], "company": [], "city": []}
        for c in COUNTRIES.values():
            fake = Faker(c.faker_locale)
            fake.seed_instance(stable_seed(seed, "faker", c.code) & 0xFFFFFFFF)
            for kind, values, target in (
                ("given", [fake.first_name()[:60] for _ in range(GIVEN_NAMES)], names),
                ("family", [fake.last_name()[:39] for _ in range(FAMILY_NAMES)], names),
                ("company", [fake.company()[:100] for _ in range(COMPANIES)], names),
                ("city", _cities(fake, c), places),
            ):
                kinds[kind].append((len(target), len(values)))
                target.extend(values)
        # kind -> per country, (first, count) of its pool in ``names`` or ``places``
        self.ranges = {kind: np.array(spans, dtype=np.int64) for kind, spans in kinds.items()}
        self.names = np.array(names)
        self.places = np.array(places)
        card_fake = Faker("en_US")
        card_fake.seed_instance(stable_seed(seed, "cards") & 0xFFFFFFFF)
        self.prefixes = np.array(
            [
                [
                    int(
                        card_fake.credit_card_number(card_type="visa16" if kind == "visa" else "mastercard")[
                            :6
                        ]
                    )
                    for _ in range(CARD_PREFIXES)
                ]
                for kind in CARD_TYPES
            ],
            dtype=np.int32,
        )

    def draw(self, rng: np.random.Generator, kind: str, country: np.ndarray) -> np.ndarray:
        """For each entry's country, a uniformly drawn index into that country's pool of ``kind``."""
        first, count = self.ranges[kind][country].T
        return (first + (rng.random(len(country)) * count).astype(np.int64)).astype(np.int32)

    def card_prefixes(self, rng: np.random.Generator, card_type: np.ndarray) -> np.ndarray:
        return self.prefixes[card_type, rng.integers(0, CARD_PREFIXES, size=len(card_type))]


def _cities(fake: object, c: Country) -> list[str]:
    """A country's city names. Some Faker locales list their cities (it_IT in an order that depends
    on the process's hash seed: sorted here, so every worker builds the same pool); others make
    names up, which are drawn."""
    cities = getattr(fake.provider("faker.providers.address"), "cities", None)  # type: ignore[attr-defined]
    if isinstance(cities, (list, tuple, set, frozenset)) and cities:
        return [city[:80] for city in sorted(cities)]
    return [fake.city()[:80] for _ in range(CITIES)]  # type: ignore[attr-defined]


def _countries(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` country indices drawn by the countries' population weights."""
    cum = np.cumsum([c.weight for c in COUNTRIES.values()])
    return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(cum) - 1).astype(
        np.int16
    )


def _merchant_places(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each merchant's country (by population weight) and category, plus one merchant for every
    (country, category) that drew none, so that sampling a place never fails."""
    country = _countries(rng, n)
    category = rng.integers(0, len(MERCHANT_CATEGORIES), size=n, dtype=np.int8)
    place = country.astype(np.int64) * len(MERCHANT_CATEGORIES) + category
    missing = np.setdiff1d(np.arange(len(COUNTRIES) * len(MERCHANT_CATEGORIES)), place)
    country = np.concatenate([country, (missing // len(MERCHANT_CATEGORIES)).astype(np.int16)])
    category = np.concatenate([category, (missing % len(MERCHANT_CATEGORIES)).astype(np.int8)])
    return country, category


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` version-4 UUIDs drawn from ``rng`` (so reproducible), as S16."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return raw.view("S16").ravel()


def _day(days: int) -> date:
    return REFERENCE_DAY + timedelta(days=int(days))


_POOLS = ("names", "places")
_ARRAYS = tuple(f.name for f in fields(Population) if f.name not in ("version", *_POOLS))
_SEPARATOR = "\x1f"


def _save(population: Population, path: Path) -> None:
    """Write ``population`` as an ``.npz`` file: its arrays, and each pool as one UTF-8 string."""
    pools = {
        name: np.frombuffer(_SEPARATOR.join(getattr(population, name).tolist()).encode(), dtype=np.uint8)
        for name in _POOLS
    }
    with open(path, "wb") as f:
        np.savez(f, **{name: getattr(population, name) for name in _ARRAYS}, **pools)


def _load(version: str, path: Path) -> Population:
    with np.load(path, allow_pickle=False) as data:
        pools = {name: np.array(data[name].tobytes().decode().split(_SEPARATOR)) for name in _POOLS}
        return Population(version=version, **{name: data[name] for name in _ARRAYS}, **pools)


def _remove_stale(cache: Path) -> None:
    """Remove the cached populations that older code built (their names end in another code version)."""
    for old in cache.parent.glob("population-*"):
        if not old.name.endswith(f"-{_code_version()}.npz") and ".tmp" not in old.name:
            old.unlink(missing_ok=True)


def _cache_file(version: str) -> Path | None:
    """Where the population of ``version`` is cached for the next process, or None without a version.

    The name includes a hash of this module, the country table and Faker's version, so that a
    change to how the population is built never reads an old file.
    """
    if not version:
        return None
    base = os.environ.get("BANKING_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "banking-monitoring"
    )
    return Path(base) / f"population-{version}-{_code_version()}.npz"


@lru_cache(maxsize=1)
def _code_version() -> str:
    from importlib.metadata import version as package_version

    from banking import countries

    digest = hashlib.sha256(Path(__file__).read_bytes() + Path(countries.__file__).read_bytes())
    digest.update(package_version("faker").encode())
    return digest.hexdigest()[:12]
