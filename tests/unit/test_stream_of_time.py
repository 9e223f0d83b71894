"""The stream is a pure function of time: any window holds exactly the rows of its minutes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from banking.model import Window, micros
from banking.stream import generator
from banking.stream.batch import Batch, tables_for
from banking.stream.generator import MAX_INCIDENT_US, MINUTE_US, SPILL_MINUTES, generate_batch
from banking.stream.population import population_for
from tests.helpers import SMALL

NOON = datetime(2026, 11, 2, 12, tzinfo=timezone.utc)
# A high fraud share, so that many incidents run on from one minute into the next.
FRAUDY = SMALL.with_overrides({"fraud_rate": 0.4, "rate_per_minute": 120})
COLUMNS = ("t_us", "uniq", "trans_type", "channel", "amount_cents", "amount_crr_cents", "account", "card")
COLUMNS += ("merchant", "present", "scenario")


def window(start_minute: int, end_minute: int) -> Window:
    return Window(NOON + timedelta(minutes=start_minute), NOON + timedelta(minutes=end_minute))


def joined(*batches: Batch) -> dict[str, np.ndarray]:
    return {name: np.concatenate([getattr(b, name) for b in batches]) for name in COLUMNS}


def assert_same_rows(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    for name in COLUMNS:
        assert np.array_equal(a[name], b[name]), name


@pytest.mark.parametrize(
    "cuts",
    [(0, 1, 2, 3, 4, 5), (0, 3, 5), (0, 2, 5), (0, 4, 5)],
    ids=["five one-minute windows", "3+2", "2+3", "4+1"],
)
def test_a_window_is_the_union_of_its_pieces(cuts: tuple[int, ...]) -> None:
    whole = generate_batch(FRAUDY, window(0, 5))
    pieces = [generate_batch(FRAUDY, window(a, b)) for a, b in zip(cuts, cuts[1:], strict=False)]
    assert len(whole) > 400
    assert_same_rows(joined(whole), joined(*pieces))


def test_cuts_inside_a_minute_give_the_same_rows_too() -> None:
    half = NOON + timedelta(seconds=90)
    whole = generate_batch(FRAUDY, window(0, 3))
    pieces = (
        generate_batch(FRAUDY, Window(NOON, half)),
        generate_batch(FRAUDY, Window(half, whole.window.end)),
    )
    assert_same_rows(joined(whole), joined(*pieces))


def test_incidents_run_on_into_the_next_minutes() -> None:
    """The property is not trivial: some incidents have rows in more than one minute."""
    batch = generate_batch(FRAUDY, window(0, 30))
    fraud = batch.scenario >= 0
    minutes = batch.t_us[fraud] // MINUTE_US
    cards = batch.card[fraud]
    crossing = [c for c in np.unique(cards) if len(np.unique(minutes[cards == c])) > 1]
    assert crossing


def test_no_incident_runs_longer_than_the_spill_allows() -> None:
    tables = tables_for(population_for(FRAUDY))
    starts = np.full(2_000, micros(NOON), dtype=np.int64)
    for name, inject in generator.INJECTORS.items():
        rows = inject(generator._Draw(np.random.default_rng(1), tables), starts)
        if rows:
            assert int((rows["t_us"] - micros(NOON)).max()) <= MAX_INCIDENT_US, name
    assert SPILL_MINUTES * MINUTE_US >= MAX_INCIDENT_US
