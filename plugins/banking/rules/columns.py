"""The engine's input: rows to score and the history before them, as NumPy columns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from banking.model import MERCHANT_CATEGORIES, TRANS_TYPES

_I64 = np.int64


@dataclass(frozen=True, slots=True)
class Columns:
    """Rows to score, columnar, ALREADY in processing order: sorted by (timestamp, uniq_id)."""

    t_us: np.ndarray  # int64 µs since the Unix epoch (UTC)
    account: np.ndarray  # int64 key per account (same key space as HistoryColumns.account)
    card: np.ndarray  # int64 key per card (same key space as HistoryColumns.card)
    amount_cents: np.ndarray  # int64, USD cents
    country: np.ndarray  # int32 index into `countries`
    home_country: np.ndarray  # int32 index into `countries`
    trans_type: np.ndarray  # int8 (any integer dtype) index into `trans_type_names`
    card_present: np.ndarray  # bool; False only for card_presense == "Not Present"
    category: np.ndarray  # int8 (any integer dtype) index into `category_names`
    blacklisted: np.ndarray  # bool
    countries: tuple[str, ...]  # distinct codes, e.g. tuple(countries.COUNTRIES) + extra codes
    trans_type_names: tuple[str, ...] = TRANS_TYPES  # distinct; model.TRANS_TYPES (+ extras)
    category_names: tuple[str, ...] = MERCHANT_CATEGORIES  # distinct; model.MERCHANT_CATEGORIES (+ extras)

    def __len__(self) -> int:
        return len(self.t_us)


@dataclass(frozen=True, slots=True)
class HistoryColumns:
    """Transactions loaded before the window (``rules.history``), sorted by t_us; same key/code spaces as Columns."""

    t_us: np.ndarray  # int64
    account: np.ndarray  # int64
    card: np.ndarray  # int64
    amount_cents: np.ndarray  # int64
    country: np.ndarray  # int32 index into the batch's `countries`
    since: datetime  # the earliest timestamp that was read
    until: datetime
    # int64 rows each event stands for (None: every event is one row). An aggregate event of n rows
    # of one (account, country) has weight n, their summed amount, and card -1 (in no card group).
    weight: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.t_us)

    @classmethod
    def empty(cls, since: datetime, until: datetime) -> HistoryColumns:
        none = np.zeros(0, _I64)
        return cls(none, none, none, none, np.zeros(0, np.int32), since, until)
