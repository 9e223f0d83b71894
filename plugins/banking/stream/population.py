"""The stable synthetic population: accounts, cards, merchants and the blacklist, built once with Faker.

The population is a pure function of ``GeneratorSettings.population_key``: the same seed and sizes
always give the same people, cards and shops with the same ids, so every window's transactions can
be regenerated anywhere. Faker is slow per call, so it runs only here; transactions then sample
from the population, which is over a hundred times faster.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import uuid
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

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
    activity: float  # relative transaction frequency
    spend_factor: float  # multiplies category amounts: some people spend more
    cards: tuple[Card, ...]
    blacklisted: bool


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


@dataclass(frozen=True)
class Population:
    """Everything transactions are drawn from, with precomputed sampling tables."""

    version: str
    accounts: tuple[Account, ...]
    merchants: tuple[Merchant, ...]
    blacklist: tuple[BlacklistEntry, ...]
    account_cum_weights: tuple[float, ...]

    @property
    def cards(self) -> list[Card]:
        return [card for account in self.accounts for card in account.cards]


def stable_seed(*parts: object) -> int:
    """A seed that depends only on ``parts`` (Python's ``hash`` is salted per process, this is not)."""
    return zlib.crc32("\x1f".join(map(str, parts)).encode()) << 32 | zlib.crc32(repr(parts).encode())


def new_uuid(rng: random.Random) -> uuid.UUID:
    """A version-4 UUID drawn from ``rng``, so it is reproducible."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def population_for(settings: GeneratorSettings) -> Population:
    """The population of ``settings``: from this process's memory, the disk cache, or Faker."""
    return _population(*settings.population_key, version=settings.population_version)


@lru_cache(maxsize=4)
def _population(
    seed: int, n_accounts: int, n_merchants: int, blacklist_rate: float, version: str
) -> Population:
    cache = _cache_file(version)
    if cache is not None:
        try:
            return _from_json(version, json.loads(cache.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # missing or unreadable: build it
    population = build_population(seed, n_accounts, n_merchants, blacklist_rate, version)
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(_to_json(population)))
            tmp.replace(cache)  # atomic: readers see the whole file or none
        except OSError:
            pass  # a read-only home is fine: the next task builds it again
    return population


def build_population(
    seed: int, n_accounts: int, n_merchants: int, blacklist_rate: float, version: str = ""
) -> Population:
    """Build the population deterministically with Faker (about a second for 5,000 accounts)."""
    from faker import Faker  # heavy import: only where the population is built

    rng = random.Random(stable_seed("population", seed, n_accounts, n_merchants, blacklist_rate))
    countries = list(COUNTRIES.values())
    country_cum = list(accumulate(c.weight for c in countries))
    fakers: dict[str, Faker] = {}

    def faker_for(c: Country) -> Faker:
        fake = fakers.get(c.code)
        if fake is None:
            fake = fakers[c.code] = Faker(c.faker_locale)
            fake.seed_instance(stable_seed(seed, "faker", c.code) & 0xFFFFFFFF)
        return fake

    reference_day = date(2020, 1, 1)
    accounts: list[Account] = []
    n_blacklisted = round(n_accounts * blacklist_rate)
    blacklisted_idx = set(rng.sample(range(n_accounts), n_blacklisted))
    card_faker = Faker("en_US")
    card_faker.seed_instance(stable_seed(seed, "cards") & 0xFFFFFFFF)
    for i in range(n_accounts):
        c = rng.choices(countries, cum_weights=country_cum)[0]
        fake = faker_for(c)
        account_id = new_uuid(rng)
        opened_on = reference_day + timedelta(days=rng.randrange(0, 6 * 365))
        cards = tuple(
            _card(rng, card_faker, account_id, opened_on) for _ in range(1 if rng.random() < 0.7 else 2)
        )
        accounts.append(
            Account(
                account_id=account_id,
                holder_name=fake.name()[:100],
                home_country=c.code,
                city=_city(fake),
                currency=c.currency,
                opened_on=opened_on,
                activity=rng.lognormvariate(0.0, 0.6),
                spend_factor=rng.lognormvariate(0.0, 0.35),
                cards=cards,
                blacklisted=i in blacklisted_idx,
            )
        )

    merchants: list[Merchant] = []
    categories = list(MERCHANT_CATEGORIES)
    for _ in range(n_merchants):
        c = rng.choices(countries, cum_weights=country_cum)[0]
        fake = faker_for(c)
        category = rng.choice(categories)
        merchants.append(Merchant(new_uuid(rng), fake.company()[:100], category, c.code, _city(fake)))
    # Every (country, category) needs at least one merchant so that sampling never fails.
    by_place: dict[tuple[str, str], list[Merchant]] = {}
    for m in merchants:
        by_place.setdefault((m.country, m.category), []).append(m)
    for c in countries:
        for category in categories:
            if (c.code, category) not in by_place:
                fake = faker_for(c)
                m = Merchant(new_uuid(rng), fake.company()[:100], category, c.code, _city(fake))
                merchants.append(m)
                by_place[(c.code, category)] = [m]

    blacklist = tuple(
        BlacklistEntry(
            a.account_id,
            rng.choice(BLACKLIST_REASONS),
            a.opened_on + timedelta(days=rng.randrange(30, 600)),
        )
        for a in accounts
        if a.blacklisted
    )
    return _assemble(version, accounts, merchants, list(blacklist))


def _assemble(
    version: str, accounts: list[Account], merchants: list[Merchant], blacklist: list[BlacklistEntry]
) -> Population:
    """The population with its sampling tables."""
    # Blacklisted accounts are partly blocked: they transact about half as often on their own.
    weights = [a.activity * (0.5 if a.blacklisted else 1.0) for a in accounts]
    return Population(
        version=version,
        accounts=tuple(accounts),
        merchants=tuple(merchants),
        blacklist=tuple(blacklist),
        account_cum_weights=tuple(accumulate(weights)),
    )


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
    return Path(base) / f"population-{version}-{_code_version()}.json"


@lru_cache(maxsize=1)
def _code_version() -> str:
    from importlib.metadata import version as package_version

    from banking import countries

    digest = hashlib.sha256(Path(__file__).read_bytes() + Path(countries.__file__).read_bytes())
    digest.update(package_version("faker").encode())
    return digest.hexdigest()[:12]


def _to_json(p: Population) -> dict[str, Any]:
    return {
        "accounts": [
            [
                str(a.account_id),
                a.holder_name,
                a.home_country,
                a.city,
                a.currency,
                a.opened_on.isoformat(),
                a.activity,
                a.spend_factor,
                a.blacklisted,
                [[str(c.card_ref), c.card_type, c.masked_pan, c.issued_on.isoformat()] for c in a.cards],
            ]
            for a in p.accounts
        ],
        "merchants": [[str(m.merchant_id), m.name, m.category, m.country, m.city] for m in p.merchants],
        "blacklist": [[str(b.account_id), b.reason, b.listed_on.isoformat()] for b in p.blacklist],
    }


def _from_json(version: str, data: dict[str, Any]) -> Population:
    accounts = []
    for account_id, holder, home, city, currency, opened, activity, spend, blacklisted, cards in data[
        "accounts"
    ]:
        aid = uuid.UUID(account_id)
        accounts.append(
            Account(
                aid,
                holder,
                home,
                city,
                currency,
                date.fromisoformat(opened),
                activity,
                spend,
                tuple(
                    Card(uuid.UUID(ref), aid, kind, pan, date.fromisoformat(issued))
                    for ref, kind, pan, issued in cards
                ),
                blacklisted,
            )
        )
    merchants = [Merchant(uuid.UUID(mid), *rest) for mid, *rest in data["merchants"]]
    blacklist = [
        BlacklistEntry(uuid.UUID(aid), reason, date.fromisoformat(d)) for aid, reason, d in data["blacklist"]
    ]
    return _assemble(version, accounts, merchants, blacklist)


def _city(fake: Any) -> str:
    """A city name. Some Faker locales (it_IT) keep their cities in an order that depends on the
    process's hash seed; sorting them keeps the population identical in every worker process."""
    cities = getattr(fake.provider("faker.providers.address"), "cities", None)
    if isinstance(cities, (list, tuple, set, frozenset)) and cities:
        return fake.random_element(sorted(cities))[:80]
    return fake.city()[:80]


def _card(rng: random.Random, fake: object, account_id: uuid.UUID, opened_on: date) -> Card:
    card_type = rng.choice(CARD_TYPES)
    pan = fake.credit_card_number(card_type="visa16" if card_type == "visa" else "mastercard")  # type: ignore[attr-defined]
    return Card(
        card_ref=new_uuid(rng),
        account_id=account_id,
        card_type=card_type,
        masked_pan=mask_pan(pan),
        issued_on=opened_on + timedelta(days=rng.randrange(0, 365)),
    )


def mask_pan(pan: str) -> str:
    """Keep the first six and last four digits, as PCI DSS allows for display: 411111******1234."""
    digits = "".join(ch for ch in pan if ch.isdigit())
    return digits[:6] + "*" * max(len(digits) - 10, 0) + digits[-4:]
