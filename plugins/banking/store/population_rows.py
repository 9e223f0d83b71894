"""The population's tables (accounts, cards, merchants, blacklist) as text COPY chunks.

Rows are composed from the population's columns and its small pools of names and cities, so ten
million accounts stream to the server without one Python object per field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from banking.model import CARD_TYPES, MERCHANT_CATEGORIES
from banking.stream.population import (
    BLACKLIST_REASONS,
    COUNTRY_CODES,
    CURRENCIES,
    REFERENCE_DAY,
    Population,
    format_pan,
    full_name,
)

CHUNK_ROWS = 50_000


def account_chunks(p: Population) -> Iterator[str]:
    names, places = p.names.tolist(), _escaped(p.places)
    version = _escape(p.version)

    def lines(lo: int, hi: int) -> list[str]:
        return [
            f"{ident}\t{_escape(full_name(names[given], names[family]))}\t{COUNTRY_CODES[home]}\t"
            f"{places[city]}\t{CURRENCIES[home]}\t{day}\t{version}\n"
            for ident, given, family, home, city, day in zip(
                _hex(p.account_id[lo:hi]),
                p.given_name[lo:hi].tolist(),
                p.family_name[lo:hi].tolist(),
                p.home[lo:hi].tolist(),
                p.city[lo:hi].tolist(),
                _dates(p.opened_day[lo:hi]),
                strict=True,
            )
        ]

    return _chunks(p.n_accounts, lines)


def card_chunks(p: Population) -> Iterator[str]:
    def lines(lo: int, hi: int) -> list[str]:
        return [
            f"{ref}\t{account}\t{CARD_TYPES[kind]}\t{format_pan(prefix, last4)}\t{day}\n"
            for ref, account, kind, prefix, last4, day in zip(
                _hex(p.card_ref[lo:hi]),
                _hex(p.account_id[p.card_account[lo:hi]]),
                p.card_type[lo:hi].tolist(),
                p.card_prefix[lo:hi].tolist(),
                p.card_last4[lo:hi].tolist(),
                _dates(p.card_issued_day[lo:hi]),
                strict=True,
            )
        ]

    return _chunks(p.n_cards, lines)


def merchant_chunks(p: Population) -> Iterator[str]:
    names, places = _escaped(p.names), _escaped(p.places)
    version = _escape(p.version)

    def lines(lo: int, hi: int) -> list[str]:
        return [
            f"{ident}\t{names[name]}\t{MERCHANT_CATEGORIES[category]}\t{COUNTRY_CODES[country]}\t"
            f"{places[city]}\t{version}\n"
            for ident, name, category, country, city in zip(
                _hex(p.merchant_id[lo:hi]),
                p.merchant_name[lo:hi].tolist(),
                p.merchant_category[lo:hi].tolist(),
                p.merchant_country[lo:hi].tolist(),
                p.merchant_city[lo:hi].tolist(),
                strict=True,
            )
        ]

    return _chunks(p.n_merchants, lines)


def blacklist_chunks(p: Population) -> Iterator[str]:
    def lines(lo: int, hi: int) -> list[str]:
        return [
            f"{account}\t{BLACKLIST_REASONS[reason]}\t{day}\n"
            for account, reason, day in zip(
                _hex(p.account_id[p.listed_account[lo:hi]]),
                p.listed_reason[lo:hi].tolist(),
                _dates(p.listed_day[lo:hi]),
                strict=True,
            )
        ]

    return _chunks(len(p.listed_account), lines)


def _chunks(n: int, lines: Callable[[int, int], list[str]]) -> Iterator[str]:
    for lo in range(0, n, CHUNK_ROWS):
        yield "".join(lines(lo, min(lo + CHUNK_ROWS, n)))


def _hex(ids: np.ndarray) -> list[str]:
    """S16 ids as 32 hex digits each, which PostgreSQL reads as uuid."""
    return np.ascontiguousarray(ids).tobytes().hex(" ", 16).split(" ") if len(ids) else []


def _dates(days: np.ndarray) -> list[str]:
    return (np.datetime64(REFERENCE_DAY, "D") + days.astype("timedelta64[D]")).astype(str).tolist()


def _escaped(pool: np.ndarray) -> list[str]:
    return [_escape(value) for value in pool.tolist()]


def _escape(value: str) -> str:
    """A value as a text COPY field: backslash, tab, newline and carriage return escaped."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
