"""Loads replace time, not windows: any cut of a range into windows, loaded in any overlapping order,
leaves the same rows, one audit row per minute, and rollups equal to the rows."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from banking import pipeline
from banking.model import LoadError, Window
from tests.db.test_loader import RECONCILE_HITS, RECONCILE_STATS, ROLLUPS_VS_BELOW, differences
from tests.helpers import DAY, SMALL

NOON = DAY.replace(hour=12)
FRAUDY = SMALL.with_overrides({"fraud_rate": 0.3, "rate_per_minute": 150})
SNAPSHOT = """
SELECT "timestamp", uniq_id, amount, amount_crr, account_id, card_ref, decision, risk_score,
       rules_triggered, rules_explanation, rule_hits, window_start, window_end, fraud_scenario
FROM banking_data ORDER BY "timestamp", uniq_id
"""


def minutes(a: int, b: int) -> Window:
    return Window(NOON + timedelta(minutes=a), NOON + timedelta(minutes=b))


def load(conn: psycopg.Connection, rule_set, *cuts: tuple[int, int], settings=FRAUDY) -> None:
    for a, b in cuts:
        pipeline.run_window(conn, settings, rule_set, minutes(a, b))


def assert_reconciled(conn: psycopg.Connection, n_minutes: int) -> None:
    audit = conn.execute(
        "SELECT count(*), coalesce(sum(rows), 0), count(*) FILTER (WHERE window_end - window_start "
        "<> interval '1 minute') FROM banking_batches"
    ).fetchone()
    assert audit == (n_minutes, conn.execute("SELECT count(*) FROM banking_data").fetchone()[0], 0)
    assert conn.execute(RECONCILE_STATS).fetchall() == []
    assert conn.execute(RECONCILE_HITS).fetchall() == []
    assert differences(conn, ROLLUPS_VS_BELOW) == {}


@pytest.mark.parametrize(
    "sequence",
    [
        [((0, 5),), ((0, 1), (1, 2), (2, 3), (3, 4), (4, 5)), ((0, 3), (3, 5)), ((0, 5),)],
        [((0, 1), (1, 2), (2, 3), (3, 4), (4, 5)), ((0, 5),), ((0, 2), (2, 5))],
        [((0, 3), (2, 5)), ((1, 2),), ((3, 4), (4, 5)), ((0, 3), (3, 5))],
    ],
    ids=["whole, ones, 3+2, whole", "ones, whole, 2+3", "overlapping"],
)
def test_every_cut_and_overlap_leaves_the_same_rows(db: psycopg.Connection, rule_set, sequence) -> None:
    load(db, rule_set, (0, 5))
    expected = db.execute(SNAPSHOT).fetchall()
    assert len(expected) > 500
    assert {r[6] for r in expected} == {"Approved", "Review", "Rejected"}
    for cuts in sequence:
        load(db, rule_set, *cuts)
        assert db.execute(SNAPSHOT).fetchall() == expected, cuts
        assert_reconciled(db, 5)
    loads = db.execute("SELECT min(loads), max(loads) FROM banking_batches").fetchone()
    assert loads[0] > 1


def test_a_load_with_other_settings_replaces_its_minutes_and_says_so(
    db: psycopg.Connection, rule_set
) -> None:
    load(db, rule_set, (0, 5))
    before = db.execute("SELECT count(*) FROM banking_data WHERE window_start = %s", (minutes(2, 3).start,))
    busy = FRAUDY.with_overrides({"rate_per_minute": 600})
    load(db, rule_set, (2, 3), settings=busy)
    after = db.execute("SELECT count(*) FROM banking_data WHERE window_start = %s", (minutes(2, 3).start,))
    assert after.fetchone()[0] > 2 * before.fetchone()[0]
    audit = db.execute(
        "SELECT window_start, settings ->> 'rate_per_minute', settings_digest FROM banking_batches ORDER BY 1"
    ).fetchall()
    assert [(start, rate) for start, rate, _ in audit] == [
        (minutes(i, i + 1).start, "600.0" if i == 2 else "150.0") for i in range(5)
    ]
    assert audit[2][2] == busy.digest and audit[1][2] == FRAUDY.digest
    assert_reconciled(db, 5)


def test_a_quiet_minute_still_gets_its_audit_row(db: psycopg.Connection, rule_set) -> None:
    load(db, rule_set, (0, 3), settings=FRAUDY.with_overrides({"rate_per_minute": 0, "fraud_rate": 0}))
    assert db.execute("SELECT count(*), sum(rows) FROM banking_batches").fetchone() == (3, 0)


def test_a_window_off_the_minute_is_refused(db: psycopg.Connection, rule_set) -> None:
    window = Window(NOON + timedelta(seconds=30), NOON + timedelta(minutes=2))
    with pytest.raises(LoadError, match="whole minutes"):
        pipeline.run_window(db, FRAUDY, rule_set, window)
    assert db.execute("SELECT count(*) FROM banking_batches").fetchone() == (0,)


# --- catching up after downtime ------------------------------------------------------------------


def test_a_scheduled_run_after_downtime_loads_every_missed_minute(db: psycopg.Connection, rule_set) -> None:
    load(db, rule_set, (0, 3))
    interval = minutes(10, 11)
    result = pipeline.catch_up(db, interval, timedelta(hours=24), timedelta(hours=24))
    assert (result.window, result.missed_minutes, result.skipped, result.behind) == (
        minutes(3, 11),
        7,
        None,
        None,
    )
    pipeline.run_window(db, FRAUDY, rule_set, result.window)
    starts = [r[0] for r in db.execute("SELECT window_start FROM banking_batches ORDER BY 1").fetchall()]
    assert starts == [minutes(i, i + 1).start for i in range(11)]
    assert_reconciled(db, 11)
    # no downtime: a run loads its own minute
    assert pipeline.catch_up(db, minutes(11, 12), timedelta(hours=24), timedelta(hours=24)).window == minutes(
        11, 12
    )


def test_a_catch_up_beyond_the_bound_skips_the_oldest_and_a_long_one_goes_on_next_run(
    db: psycopg.Connection, rule_set
) -> None:
    load(db, rule_set, (0, 1))
    result = pipeline.catch_up(db, minutes(30, 31), timedelta(minutes=10), timedelta(hours=1))
    assert (result.window, result.skipped, result.behind) == (minutes(20, 31), minutes(1, 20), None)
    result = pipeline.catch_up(db, minutes(30, 31), timedelta(hours=1), timedelta(minutes=12))
    assert (result.window, result.skipped, result.behind) == (minutes(1, 13), None, minutes(13, 31))
    assert result.missed_minutes == 12


def test_nothing_loaded_means_nothing_to_catch_up(db: psycopg.Connection) -> None:
    result = pipeline.catch_up(db, minutes(5, 6), timedelta(hours=24), timedelta(hours=24))
    assert (result.window, result.missed_minutes) == (minutes(5, 6), 0)


# --- the warm start -------------------------------------------------------------------------------


def test_the_warm_start_loads_the_look_back_once_and_resumes(db: psycopg.Connection, rule_set) -> None:
    end = NOON
    first = pipeline.warm_start(
        db, SMALL, rule_set, end - timedelta(minutes=90), timedelta(hours=2), timedelta(minutes=45)
    )
    assert [r.load.window for r in first] == [
        Window(end - timedelta(minutes=210), end - timedelta(minutes=165)),
        Window(end - timedelta(minutes=165), end - timedelta(minutes=120)),
        Window(end - timedelta(minutes=120), end - timedelta(minutes=90)),
    ]
    # the same start later goes on from where it stopped, and a database with older data is left alone
    more = pipeline.warm_start(db, SMALL, rule_set, end, timedelta(hours=3, minutes=30), timedelta(hours=1))
    assert [r.load.window for r in more] == [
        Window(end - timedelta(minutes=90), end - timedelta(minutes=30)),
        Window(end - timedelta(minutes=30), end),
    ]
    assert pipeline.warm_start(db, SMALL, rule_set, end, timedelta(hours=2)) == []
    assert_reconciled(db, 210)
