"""The history records' country codes become positions in the caller's list, as the engine keys them."""

from __future__ import annotations

import numpy as np

from banking.rules.history import country_positions


def codes(*values: str) -> np.ndarray:
    return np.array([v.encode() for v in values], dtype="S2")


def test_codes_map_to_their_first_position_and_others_past_the_list() -> None:
    got = country_positions(codes("US", "GB", "ZZ", "DE", "US", "AA"), ["DE", "US", "GB", "US"])
    assert got.dtype == np.int32
    assert got.tolist() == [1, 2, 4, 0, 1, 4]


def test_an_empty_list_puts_every_code_past_it() -> None:
    assert country_positions(codes("US", "GB"), []).tolist() == [0, 0]
    assert country_positions(codes(), ["US"]).tolist() == []
