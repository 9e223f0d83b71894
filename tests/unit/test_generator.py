"""The generator: a pure function of (settings, window) with plausible distributions."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from banking.countries import COUNTRIES
from banking.model import (
    CARD_NOT_PRESENT,
    MERCHANT_CATEGORIES,
    SCENARIOS,
    TRANS_TYPES,
    Window,
    WindowError,
    parse_datetime,
)
from banking.stream import generator
from banking.stream.batch import tables_for
from banking.stream.generator import generate_batch
from banking.stream.population import population_for
from tests.builders import generate_window
from tests.helpers import SMALL

NOON = datetime(2026, 11, 2, 12, tzinfo=timezone.utc)


def minute(start: datetime, n: int = 1) -> Window:
    return Window(start, start + timedelta(minutes=n))


def test_same_window_same_rows_and_ids() -> None:
    a = generate_window(SMALL, minute(NOON))
    b = generate_window(SMALL, minute(NOON))
    assert a and a == b


def test_other_window_or_seed_gives_other_rows() -> None:
    base = {t.uniq_id for t in generate_window(SMALL, minute(NOON))}
    assert base.isdisjoint(t.uniq_id for t in generate_window(SMALL, minute(NOON + timedelta(minutes=1))))
    other_seed = SMALL.with_overrides({"seed": SMALL.seed + 1})
    assert base.isdisjoint(t.uniq_id for t in generate_window(other_seed, minute(NOON)))


def test_rows_stay_inside_their_window_and_are_sorted() -> None:
    window = minute(NOON, 10)
    rows = generate_window(SMALL.with_overrides({"fraud_rate": 0.3}), window)
    assert all(window.start <= t.timestamp < window.end for t in rows)
    # a row's window is the minute it falls in, however the time was cut
    assert all(t.window_start == t.timestamp.replace(second=0, microsecond=0) for t in rows)
    assert all(t.window_end - t.window_start == timedelta(minutes=1) for t in rows)
    assert [(t.timestamp, t.uniq_id) for t in rows] == sorted((t.timestamp, t.uniq_id) for t in rows)
    assert len({t.uniq_id for t in rows}) == len(rows)


def test_rate_follows_the_setting_and_time_of_day() -> None:
    busy = generate_window(SMALL.with_overrides({"rate_per_minute": 600}), minute(NOON, 10))
    night = generate_window(SMALL.with_overrides({"rate_per_minute": 600}), minute(NOON.replace(hour=3), 10))
    # 600/min for 10 min, scaled by the hourly intensity (noon is busy, 03:00 UTC is quiet).
    assert 6000 < len(busy) < 12000
    assert len(night) < len(busy) / 2
    assert generate_window(SMALL.with_overrides({"rate_per_minute": 0, "fraud_rate": 0}), minute(NOON)) == []


def test_distributions_are_plausible() -> None:
    rows = generate_window(SMALL.with_overrides({"rate_per_minute": 2000}), minute(NOON, 10))
    legit = [t for t in rows if t.fraud_scenario is None]
    types = Counter(t.trans_type for t in legit)
    assert set(types) == set(TRANS_TYPES)
    assert 0.85 < types["Real_time_transaction"] / len(legit) < 0.95
    assert set(t.merchant_category for t in legit) == set(MERCHANT_CATEGORIES)
    by_category = {
        c: statistics.median(t.amount_cents for t in legit if t.merchant_category == c) / 100
        for c in MERCHANT_CATEGORIES
    }
    assert by_category["Travel"] > 3 * by_category["Groceries"]
    assert 10 < by_category["Groceries"] < 100
    cnp = Counter(t.card_presense == CARD_NOT_PRESENT for t in legit)
    assert 0.2 < cnp[True] / len(legit) < 0.5
    home = sum(t.country == t.home_country for t in legit) / len(legit)
    assert 0.9 < home < 0.99
    assert len({t.account_id for t in legit}) > 200  # many accounts, and they come back
    assert max(Counter(t.account_id for t in legit).values()) > 5


def test_payments_abroad_go_to_the_week_s_destination() -> None:
    """Legitimate payments abroad are trips: one country per account and week, never home, and an
    account's destination changes from week to week."""
    busy = SMALL.with_overrides({"rate_per_minute": 3000, "fraud_rate": 0})
    abroad: dict[tuple[int, int], set[int]] = {}
    for week in range(3):
        batch = generate_batch(busy, minute(NOON + timedelta(weeks=week), 30))
        away = np.flatnonzero(batch.country != batch.home_country)
        assert len(away) > 100
        for account, country in zip(batch.account[away].tolist(), batch.country[away].tolist(), strict=True):
            abroad.setdefault((account, week), set()).add(country)
    assert all(len(countries) == 1 for countries in abroad.values())
    accounts = {a for a, w in abroad if w == 0} & {a for a, w in abroad if w == 1}
    assert accounts and any(abroad[a, 0] != abroad[a, 1] for a in accounts)
    spread = Counter(d for d in generator.trip_destinations(np.arange(10_000), np.zeros(10_000, np.int64)))
    assert sorted(spread) == list(range(len(COUNTRIES) - 1)) and min(spread.values()) > 800


def test_amount_in_account_currency_matches_the_reference_rate() -> None:
    for t in generate_window(SMALL, minute(NOON, 5)):
        country = COUNTRIES[t.home_country]
        assert t.currency == country.currency
        assert t.amount_crr_cents == round(t.amount_cents * country.units_per_usd)


def test_fraud_scenarios_are_injected_at_the_configured_rate() -> None:
    settings = SMALL.with_overrides({"rate_per_minute": 1000, "fraud_rate": 0.1})
    rows = generate_window(settings, minute(NOON, 30))
    labels = Counter(t.fraud_scenario for t in rows)
    fraud = sum(n for label, n in labels.items() if label)
    assert 0.06 < fraud / len(rows) < 0.14
    assert set(labels) - {None} == set(SCENARIOS)
    testing = [t for t in rows if t.fraud_scenario == "card_testing"]
    assert all(t.card_presense == CARD_NOT_PRESENT and t.amount_cents <= 500 for t in testing)
    takeover = [t for t in rows if t.fraud_scenario == "account_takeover"]
    assert all(t.country != t.home_country for t in takeover)
    assert all(t.account_blacklisted for t in rows if t.fraud_scenario == "blacklisted_account")


def test_no_field_only_fraud_rows_have() -> None:
    """Label leakage check: every value a fraud row shows also appears on legitimate rows."""
    rows = generate_window(
        SMALL.with_overrides({"rate_per_minute": 2000, "fraud_rate": 0.1}), minute(NOON, 10)
    )
    for name in (
        "channel",
        "merchant_category",
        "card_presense",
        "card_type",
        "trans_type",
        "account_blacklisted",
    ):
        legit = {getattr(t, name) for t in rows if t.fraud_scenario is None}
        fraud = {getattr(t, name) for t in rows if t.fraud_scenario}
        assert fraud <= legit, name


def test_population_is_stable_and_masked() -> None:
    a, b = population_for(SMALL), population_for(SMALL.with_overrides({"rate_per_minute": 5}))
    assert a is b  # the stream rate does not change who the customers are
    assert a.n_accounts == SMALL.n_accounts
    assert len(a.listed_account) == round(SMALL.n_accounts * SMALL.blacklist_rate)
    for c in range(a.n_cards):
        card = a.card(c)
        assert len(card.masked_pan) == 16 and card.masked_pan[6:12] == "******"
        assert card.masked_pan[:6].isdigit() and card.masked_pan[12:].isdigit()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (NOON, NOON),
        (NOON, NOON - timedelta(minutes=1)),
        (NOON.replace(tzinfo=None), NOON + timedelta(minutes=1)),
    ],
)
def test_bad_windows_are_refused(start: datetime, end: datetime) -> None:
    with pytest.raises(WindowError):
        Window(start, end)


@pytest.mark.parametrize(
    "text", ["2026-11-02T12:00:00Z", "2026-11-02T12:00:00z", "2026-11-02T13:00:00+01:00"]
)
def test_iso_datetimes_parse_with_the_z_of_utc_on_every_python(text: str) -> None:
    assert parse_datetime(text) == NOON and parse_datetime(text).tzinfo is not None
    assert parse_datetime("2026-11-02T12:00:00") == NOON.replace(tzinfo=None)


def test_identical_in_every_process() -> None:
    """Workers are separate processes with their own hash seeds: the batch must not depend on them."""
    import os
    import subprocess
    import sys

    code = (
        "from datetime import datetime, timezone; from banking.pipeline import generate; "
        "from banking.model import Window; from tests.helpers import SMALL; from tests.builders import transactions_of; "
        "t = datetime(2026, 11, 2, 12, tzinfo=timezone.utc); "
        "rows, m = generate(SMALL, Window(t, t.replace(minute=5))); "
        "print(m.fingerprint, __import__('hashlib').sha256(repr(transactions_of(rows)).encode()).hexdigest())"
    )
    outputs = set()
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": os.pathsep.join(sys.path)}
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(result.stdout.strip())
    assert len(outputs) == 1, outputs


def test_id_index_finds_every_id_and_keys_unknown_ones() -> None:
    from uuid import UUID

    import numpy as np

    from banking.stream.batch import IdIndex

    ids = [UUID(int=n) for n in (0, 1 << 8, 5, (1 << 128) - 1, 7 << 120)]  # trailing zero bytes too
    index = IdIndex.of(ids)
    asked = [*ids[::-1], UUID(int=99), UUID(int=1 << 16), UUID(int=99)]
    keys = index.positions_of(np.array([u.bytes for u in asked], dtype="S16"))
    assert keys.tolist()[:5] == [4, 3, 2, 1, 0]
    assert keys[5] == keys[7] != keys[6] and min(keys[5:]) >= len(ids)


def test_rows_with_equal_timestamps_are_ordered_by_id() -> None:
    """The generator's sort equals a full (timestamp, uniq_id) sort, ties and zero bytes included."""
    import numpy as np

    from banking.stream.generator import _time_then_id_order

    rng = np.random.default_rng(1)
    for trial in range(200):
        n = int(rng.integers(0, 300))
        t = rng.integers(0, 40, size=n).astype(np.int64)  # many equal timestamps
        ids = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
        if trial % 3 == 0:
            ids[:, 15] = 0
        high, low = ids[:, :8].copy().view(">u8").ravel(), ids[:, 8:].copy().view(">u8").ravel()
        want = np.lexsort((low, high, t))
        got = _time_then_id_order(t, ids)
        assert (t[got] == t[want]).all() and (ids[got] == ids[want]).all(), trial


def test_incident_runs_start_at_their_start_and_follow_their_gaps() -> None:
    starts = np.array([1_000, 50_000, 7_000], dtype=np.int64)
    counts = np.array([3, 1, 2])
    incident, times = generator._runs_from(starts, counts, lambda n: np.arange(1, n + 1) * 10)
    assert incident.tolist() == [0, 0, 0, 1, 2, 2]
    # steps 10..60, one per row; each run's first step is dropped, the rest add up from its start
    assert times.tolist() == [1_000, 1_020, 1_050, 50_000, 7_000, 7_060]
    assert generator._position_in_run(counts).tolist() == [0, 1, 2, 0, 0, 1]


def test_card_testing_incidents_are_bursts_on_one_card() -> None:
    draw = generator._Draw(np.random.default_rng(3), tables_for(population_for(SMALL)))
    hour = 3600 * 1_000_000
    starts = np.arange(200, dtype=np.int64) * hour  # far apart: each incident alone in its hour
    rows = generator._card_testing(draw, starts)
    incident = rows["t_us"] // hour
    assert sorted(set(incident.tolist())) == list(range(200))
    sizes = np.bincount(incident)
    assert sizes.min() >= 5 and sizes.max() <= 15 and 9 < sizes.mean() < 11
    for i in range(200):
        mine = incident == i
        t = rows["t_us"][mine]
        assert t[0] == starts[i] and len(set(rows["card"][mine].tolist())) == 1
        gaps = np.diff(t) / 1_000_000
        assert gaps.min() >= 2 and gaps.max() <= 12


def test_airflow_pendulum_datetimes_give_the_same_window_and_rows() -> None:
    """The generate task gets its window from Airflow as pendulum DateTimes (the score and load tasks
    rebuild it from ISO strings): both must give the same rows."""
    import pendulum

    from banking.model import Window, micros
    from banking.stream.generator import generate_batch

    start = pendulum.datetime(2026, 11, 2, 12, 30, 0, 250, tz="Europe/Paris")
    window = Window(start, start.add(minutes=2))
    plain = Window(
        datetime(2026, 11, 2, 11, 30, 0, 250, tzinfo=timezone.utc),
        datetime(2026, 11, 2, 11, 32, 0, 250, tzinfo=timezone.utc),
    )
    assert window == plain and type(window.start) is datetime
    assert micros(start) == micros(plain.start) == 1_793_619_000_000_250
    assert generate_batch(SMALL, window).fingerprint() == generate_batch(SMALL, plain).fingerprint()


def test_the_population_cache_replaces_what_older_code_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from banking.stream import population

    monkeypatch.setenv("BANKING_CACHE_DIR", str(tmp_path))
    stale = [tmp_path / "population-0123456789abcdef-000000000000.npz", tmp_path / "population-x-y.json"]
    for path in stale:
        path.write_bytes(b"built by older code")
    population._population.cache_clear()
    try:
        built = population_for(SMALL)
        cached = population._cache_file(SMALL.population_version)
        assert sorted(tmp_path.iterdir()) == [cached]
        again = population._load(SMALL.population_version, cached)
        assert np.array_equal(again.account_id, built.account_id)
        assert again.holder_name(5) == built.holder_name(5) and again.merchant(3) == built.merchant(3)
    finally:
        population._population.cache_clear()


def test_ids_ending_in_zero_bytes_keep_all_16() -> None:
    """NumPy drops an S16 item's trailing zero bytes; the population's id helpers must not."""
    from banking.stream.population import id_bytes, raw_ids

    ids = [bytes(range(1, 13)) + b"\0" * 4, b"\xff" * 16, b"\0" * 16]
    array = np.array(ids, dtype="S16")
    assert raw_ids(array) == ids
    assert [id_bytes(item) for item in array.tolist()] == ids
