"""A scored batch as ``banking_data`` rows in PostgreSQL's binary COPY format.

The server ingests binary COPY about 1.3-1.5 times faster than text (it parses no timestamps,
numerics or uuids; ``docs/performance.md``), and most of a row is fixed-width, so it is packed
straight from the batch's columns into a NumPy record per row. The other columns come from small
tables, each field already length-prefixed: the (trans_type, card_presense, channel,
fraud_scenario, rule_set_version) combination, the scoring columns (rows with the same hits share
them), the card's columns (with its account's) and the merchant's. A row is its record and four
table entries, joined. The column order is ``load/copy_banking_data.sql``'s.
"""

from __future__ import annotations

import json
import struct
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import NamedTuple

import numpy as np

from banking.model import (
    CARD_NOT_PRESENT,
    CARD_PRESENT,
    CARD_TYPES,
    CHANNELS,
    DECISIONS,
    NO_RULES_TRIGGERED,
    SCENARIOS,
    TRANS_TYPES,
    US_PER_MINUTE,
    micros,
)
from banking.rules.engine import Scores
from banking.rules.rule_set import NO_HITS_EXPLANATION
from banking.stream.batch import Batch, PopulationTables
from banking.stream.population import COUNTRY_CODES, CURRENCIES, Population, full_name

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no flags, no header extension
TRAILER = struct.pack(">h", -1)
FIELDS = 29
PG_EPOCH_US = micros(datetime(2000, 1, 1, tzinfo=timezone.utc))  # binary timestamptz counts µs from here
_MAX_CENTS = 10**14  # a fixed four-digit numeric holds up to 10^12 units (the columns allow less)
# One row's fixed-width fields, big-endian, each after its int32 length: the field count, then
# "timestamp", uniq_id, amount, amount_crr, window_start, window_end.
_FIXED = np.dtype(
    [
        ("fields", ">i2"),
        ("ts_len", ">i4"),
        ("ts", ">i8"),
        ("id_len", ">i4"),
        ("id", "u1", (16,)),
        ("amount_len", ">i4"),
        ("amount", ">i2", (8,)),
        ("crr_len", ">i4"),
        ("crr", ">i2", (8,)),
        ("start_len", ">i4"),
        ("start", ">i8"),
        ("end_len", ">i4"),
        ("end", ">i8"),
    ]
)
_RECORD = np.dtype((np.void, _FIXED.itemsize))


class EncodeError(ValueError):
    """A value that ``banking_data`` cannot hold."""


def encode_rows(batch: Batch, scores: Scores, rule_set_version: str, rows: range | None = None) -> bytes:
    """The whole COPY payload (signature, rows, trailer) of ``rows`` of the batch, all by default."""
    return b"".join(encode_chunks(batch, scores, rule_set_version, rows=rows))


def encode_chunks(
    batch: Batch,
    scores: Scores,
    rule_set_version: str,
    chunk_rows: int = 5_000,
    rows: range | None = None,
) -> Iterator[bytes]:
    """:func:`encode_rows` in chunks of ``chunk_rows`` rows, so that the server ingests one chunk
    while the next is encoded. The first chunk starts with the signature; the trailer comes last."""
    if len(scores.decision) != len(batch):
        raise EncodeError(f"{len(scores.decision)} scores for a batch of {len(batch)} rows")
    rows = range(len(batch)) if rows is None else rows
    if rows.step != 1 or not (0 <= rows.start <= rows.stop <= len(batch)):
        raise EncodeError(f"rows {rows} are not a range of the batch's {len(batch)} rows")
    merchants = merchant_fragments(batch.tables)
    used_cards, card_code = np.unique(batch.card, return_inverse=True)
    cards = card_fragments(batch.tables.population, used_cards)
    version = _text(rule_set_version)
    kinds = _table(
        _text(tt) + _text(CARD_PRESENT if present else CARD_NOT_PRESENT) + _text(ch) + scenario + version
        for tt in TRANS_TYPES
        for present in (False, True)
        for ch in CHANNELS
        for scenario in [_NULL] + [_text(s) for s in SCENARIOS]
    )
    kind_code = ((batch.trans_type.astype(np.int64) * 2 + batch.present) * len(CHANNELS) + batch.channel) * (
        len(SCENARIOS) + 1
    ) + (batch.scenario.astype(np.int64) + 1)
    quiet = _table(
        _text(NO_RULES_TRIGGERED) + _text(NO_HITS_EXPLANATION) + _text(d) + _int2(0) + _jsonb([])
        for d in DECISIONS
    )
    hit_rows = np.flatnonzero(scores.hit_mask)
    hit_fields = _ScoringFields(scores)
    yield SIGNATURE
    for lo in range(rows.start, rows.stop, chunk_rows):
        hi = min(lo + chunk_rows, rows.stop)
        fixed = np.empty(hi - lo, _FIXED)
        fixed["fields"] = FIELDS
        fixed["ts_len"], fixed["ts"] = 8, batch.t_us[lo:hi] - PG_EPOCH_US
        fixed["id_len"], fixed["id"] = 16, batch.uniq[lo:hi]
        fixed["amount_len"], fixed["amount"] = 16, _numeric(batch.amount_cents[lo:hi])
        fixed["crr_len"], fixed["crr"] = 16, _numeric(batch.amount_crr_cents[lo:hi])
        # A row's window is the minute it falls in, however the loaded time was cut.
        minute_start = batch.t_us[lo:hi] // US_PER_MINUTE * US_PER_MINUTE - PG_EPOCH_US
        fixed["start_len"], fixed["start"] = 8, minute_start
        fixed["end_len"], fixed["end"] = 8, minute_start + US_PER_MINUTE
        scoring = quiet[scores.decision[lo:hi]]
        for i in hit_rows[np.searchsorted(hit_rows, lo) : np.searchsorted(hit_rows, hi)].tolist():
            scoring[i - lo] = hit_fields.row(i)
        parts: list[bytes] = [b""] * (5 * (hi - lo))
        parts[0::5] = fixed.view(_RECORD).tolist()
        parts[1::5] = kinds[kind_code[lo:hi]].tolist()
        parts[2::5] = scoring.tolist()
        parts[3::5] = cards[card_code[lo:hi]].tolist()
        parts[4::5] = merchants[batch.merchant[lo:hi]].tolist()
        yield b"".join(parts)
    yield TRAILER


def _numeric(cents: np.ndarray) -> np.ndarray:
    """Positive amounts in cents as binary numerics of four base-10000 digits, two before the point.

    The server strips the leading and trailing zero digits and applies the column's precision."""
    if len(cents) and (cents.min() <= 0 or cents.max() >= _MAX_CENTS):
        raise EncodeError(f"an amount of {cents.min()} or {cents.max()} cents is out of range")
    units, frac = np.divmod(cents, 100)
    out = np.empty((len(cents), 8), np.int64)
    out[:, :4] = (4, 2, 0, 2)  # ndigits, weight (of the first digit, in powers of 10000), sign +, dscale
    out[:, 4] = units // 100_000_000
    out[:, 5] = units // 10_000 % 10_000
    out[:, 6] = units % 10_000
    out[:, 7] = frac * 100
    return out


class _ScoringFields:
    """rules_triggered .. rule_hits of the rows that rules hit. What depends only on which rules
    fired (the ids, the decision, the risk score, each hit's JSON head) is formatted once per
    combination; per row only the explanations are joined and quoted."""

    def __init__(self, scores: Scores) -> None:
        self.scores = scores
        self.heads = [
            f'{{"rule":{_quote(rule_id)},"score":{score},"explanation":'
            for rule_id, score in zip(scores.rule_ids, scores.rule_scores, strict=True)
        ]
        self.by_mask: dict[int, tuple[bytes, bytes, list[str]]] = {}

    def row(self, i: int) -> bytes:
        scores, mask = self.scores, int(self.scores.hit_mask[i])
        known = self.by_mask.get(mask)
        if known is None:
            bits = scores.hit_rules(i)
            known = self.by_mask[mask] = (
                _text(scores.rules_triggered(i)),
                _text(DECISIONS[scores.decision[i]]) + _int2(int(scores.risk_score[i])),
                [self.heads[k] for k in bits],
            )
        triggered, decided, heads = known
        texts = scores.explanations[i]
        hits = ",".join([head + _quote(text) + "}" for head, text in zip(heads, texts, strict=True)])
        return triggered + _text("; ".join(texts)) + decided + _field(b"\x01[" + hits.encode() + b"]")


def card_fragments(population: Population, cards: np.ndarray) -> np.ndarray:
    """The card columns (with the card's account) of each of ``cards``: built per batch for the
    cards it uses, so that a population of millions never needs a table of them all, with NumPy
    (a window of 100,000 rows uses about as many cards): the holder's name from the encoded name
    pool, the fixed-width fields packed in one record per card."""
    p = population
    accounts = p.card_account[cards]
    prefix, last4 = p.card_prefix[cards].astype(np.int64), p.card_last4[cards].astype(np.int64)
    if ((prefix < 0) | (prefix >= 10**6) | (last4 < 0) | (last4 >= 10**4)).any():
        raise EncodeError("a card number's prefix or last four digits are out of range")
    fixed = np.empty(len(cards), _CARD_FIXED)
    fixed["account_len"], fixed["account"] = 16, p.account_id[accounts]
    fixed["listed_len"], fixed["listed"] = 1, p.blacklisted[accounts]
    fixed["ref_len"], fixed["ref"] = 16, p.card_ref[cards]
    fixed["pan_len"] = 16
    fixed["pan"][:, 6:12] = ord("*")
    for k in range(6):
        fixed["pan"][:, k] = ord("0") + prefix // 10 ** (5 - k) % 10
    for k in range(4):
        fixed["pan"][:, 12 + k] = ord("0") + last4 // 10 ** (3 - k) % 10
    currency_and_home = _table(
        _text(currency) + _text(code) for currency, code in zip(CURRENCIES, COUNTRY_CODES, strict=True)
    )
    types = _table(_text(kind) for kind in CARD_TYPES)
    return (
        _name_fields(p, p.given_name[accounts], p.family_name[accounts])
        + currency_and_home[p.home[accounts]]
        + _table(fixed.view((np.void, _CARD_FIXED.itemsize)).tolist())
        + types[p.card_type[cards]]
    )


# A card's fixed-width fields after its holder's name, currency and home country, each after its
# int32 length: the account_id, blacklisted, card_ref and the masked card number.
_CARD_FIXED = np.dtype(
    [
        ("account_len", ">i4"),
        ("account", "S16"),
        ("listed_len", ">i4"),
        ("listed", "u1"),
        ("ref_len", ">i4"),
        ("ref", "S16"),
        ("pan_len", ">i4"),
        ("pan", "u1", (16,)),
    ]
)


def _name_fields(p: Population, given: np.ndarray, family: np.ndarray) -> np.ndarray:
    """``_text(full_name(given, family))`` of each pair of indices into the name pool."""
    pool = _name_pool(p)
    sizes = np.asarray(pool.size[given] + 1 + pool.size[family], ">i4")
    fields = _table(sizes.view((np.void, 4)).tolist()) + pool.encoded[given] + b" " + pool.encoded[family]
    for i in np.flatnonzero(pool.chars[given] + 1 + pool.chars[family] > 100).tolist():
        fields[i] = _text(full_name(str(p.names[given[i]]), str(p.names[family[i]])))  # it cuts them
    return fields


class _NamePool(NamedTuple):
    names: np.ndarray  # the population's pool, to tell a new pool of the same version
    encoded: np.ndarray  # object: each name UTF-8 encoded
    size: np.ndarray  # int64: its bytes
    chars: np.ndarray  # int64: its characters


def _name_pool(p: Population) -> _NamePool:
    """The population's name pool, encoded once per process and pool."""
    cached = _NAME_POOLS.get(p.version)
    if cached is None or cached.names is not p.names:
        names = [str(name) for name in p.names.tolist()]
        encoded = _table(name.encode() for name in names)
        cached = _NamePool(
            p.names,
            encoded,
            np.fromiter(map(len, encoded), np.int64, len(names)),
            np.fromiter(map(len, names), np.int64, len(names)),
        )
        if len(_NAME_POOLS) >= 4:
            _NAME_POOLS.clear()
        _NAME_POOLS[p.version] = cached
    return cached


_NAME_POOLS: dict[str, _NamePool] = {}


def merchant_fragments(tables: PopulationTables) -> np.ndarray:
    """The merchant columns of every merchant (built once per process and population)."""
    cached = _MERCHANTS.get(tables.version)
    if cached is None or cached[0] is not tables:
        p = tables.population
        merchants = _table(
            _uuid(m.merchant_id) + _text(m.name) + _text(m.category) + _text(m.country) + _text(m.city)
            for m in map(p.merchant, range(p.n_merchants))
        )
        if len(_MERCHANTS) >= 4:
            _MERCHANTS.clear()
        cached = _MERCHANTS[tables.version] = (tables, merchants)
    return cached[1]


_MERCHANTS: dict[str, tuple[PopulationTables, np.ndarray]] = {}
_NULL = struct.pack(">i", -1)
_quote = json.JSONEncoder(ensure_ascii=False).encode  # a str as a JSON string, as json.dumps writes it


def _table(entries: Iterable[bytes]) -> np.ndarray:
    """A lookup table of encoded fields (index it with an array of codes)."""
    return np.array(list(entries), dtype=object)


def _field(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


def _text(value: str) -> bytes:
    return _field(value.encode())


def _int2(value: int) -> bytes:
    return _field(struct.pack(">h", value))


def _uuid(value: uuid.UUID) -> bytes:
    return _field(value.bytes)


def _jsonb(value: object) -> bytes:
    return _field(b"\x01" + json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
