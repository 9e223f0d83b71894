"""The load: one COPY in one transaction that replaces the window; reruns change nothing."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from banking import model, pipeline
from banking.model import EPOCH, Window
from banking.store import copy_format, loader, partitions, rollups, staging
from tests.db.lock_waits import second_waits
from tests.helpers import DAY, SMALL

ROWS = "SELECT * FROM banking_data WHERE window_start = %s AND window_end = %s ORDER BY uniq_id"
NOON = DAY.replace(hour=12)


def minute(i: int) -> Window:
    return Window(NOON + timedelta(minutes=i), NOON + timedelta(minutes=i + 1))


def window_rows(conn: psycopg.Connection, window: Window) -> list[tuple]:
    return conn.execute(ROWS, (window.start, window.end)).fetchall()


def test_loading_a_window_twice_gives_identical_rows(db: psycopg.Connection, rule_set) -> None:
    w = minute(0)
    first = pipeline.run_window(db, SMALL, rule_set, w)
    rows = window_rows(db, w)
    assert len(rows) == first.summary.rows > 0
    again = pipeline.run_window(db, SMALL, rule_set, w)
    assert again.load.deleted == again.load.inserted == len(rows)
    assert window_rows(db, w) == rows
    audit = db.execute("SELECT rows, loads FROM banking_batches").fetchall()
    assert audit == [(len(rows), 2)]


def test_each_window_adds_its_own_rows(db: psycopg.Connection, rule_set) -> None:
    reports = [pipeline.run_window(db, SMALL, rule_set, minute(i)) for i in range(3)]
    total = db.execute("SELECT count(*) FROM banking_data").fetchone()[0]
    assert total == sum(r.summary.rows for r in reports)
    audit = db.execute("SELECT sum(rows), sum(rejected), count(*) FROM banking_batches").fetchone()
    rejected = db.execute("SELECT count(*) FROM banking_data WHERE decision = 'Rejected'").fetchone()[0]
    assert audit == (total, rejected, 3)


def test_every_row_is_decided_and_explained(db: psycopg.Connection, rule_set) -> None:
    for i in range(3):
        pipeline.run_window(db, SMALL, rule_set, minute(i))
    bad = db.execute(
        "SELECT count(*) FROM banking_data WHERE decision IS NULL OR rules_triggered = '' "
        "OR rule_set_version <> %s OR (rules_triggered <> 'No Rules Triggered') <> (jsonb_array_length(rule_hits) > 0)",
        (rule_set.version,),
    ).fetchone()[0]
    assert bad == 0


def test_an_error_in_the_middle_of_a_load_leaves_nothing(
    db: psycopg.Connection, rule_set, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = minute(0)
    pipeline.run_window(db, SMALL, rule_set, w)
    before = window_rows(db, w)
    batch, _ = pipeline.generate(SMALL, w)
    scores = pipeline.score(db, batch, rule_set)
    summary = pipeline.summarize(batch, scores, SMALL)
    chunks = list(
        copy_format.encode_chunks(batch, scores, summary.rule_set_version, chunk_rows=len(batch) // 4)
    )
    chunks[len(chunks) // 2] = b"\x00\x03this is not a row"  # after the first rows went in
    monkeypatch.setattr(copy_format, "encode_chunks", lambda *args: iter(chunks))
    with pytest.raises(psycopg.errors.DataError):
        loader.replace_window(db, batch, scores, summary)
    assert window_rows(db, w) == before
    assert db.execute("SELECT loads FROM banking_batches").fetchall() == [(1,)]


def test_a_batch_of_unknown_population_is_refused(db: psycopg.Connection, rule_set) -> None:
    other = SMALL.with_overrides({"seed": 99})
    with pytest.raises(model.LoadError, match="run the banking_schema DAG"):
        pipeline.run_window(db, other, rule_set, minute(0))
    assert db.execute("SELECT count(*) FROM banking_data").fetchone()[0] == 0


def test_staged_path_loads_the_same_rows_as_the_direct_path(db: psycopg.Connection, rule_set) -> None:
    w = minute(5)
    pipeline.run_window(db, SMALL, rule_set, w)
    direct = window_rows(db, w)
    _, manifest = pipeline.generate(SMALL, w)
    manifest = pipeline.Manifest.from_xcom(manifest.as_xcom())
    summary, size = pipeline.score_and_stage(db, manifest, rule_set)
    assert size > 0 and summary.rows == len(direct)
    result = pipeline.load(db, manifest, run_id="manual__test")
    assert result.inserted == len(direct)
    assert window_rows(db, w) == direct
    assert db.execute("SELECT count(*) FROM banking_staging").fetchone()[0] == 0
    with pytest.raises(model.LoadError, match="nothing is staged"):
        pipeline.load(db, manifest)


def test_staged_scores_round_trip(db: psycopg.Connection, rule_set) -> None:
    """What the load task reads back is exactly what the score task computed."""
    batch, _ = pipeline.generate(SMALL.with_overrides({"fraud_rate": 0.2}), minute(7))
    scores = pipeline.score(db, batch, rule_set)
    assert scores.explanations  # some rule fired, so the texts travel too
    back = staging.unpack_scores(staging.pack_scores(scores))
    for name in ("risk_score", "decision", "hit_mask"):
        assert (getattr(back, name) == getattr(scores, name)).all(), name
    assert (back.rule_ids, back.rule_scores, back.explanations) == (
        scores.rule_ids,
        scores.rule_scores,
        scores.explanations,
    )
    assert back.summary == scores.summary


def test_scores_staged_by_another_version_are_refused(db: psycopg.Connection, rule_set) -> None:
    import zlib

    with pytest.raises(model.LoadError, match="another version of the pipeline"):
        staging.unpack_scores(zlib.compress(b"\x02\x00\x00\x00{}"))


def test_regenerating_with_other_settings_is_detected(rule_set) -> None:
    _, manifest = pipeline.generate(SMALL, minute(0))
    tampered = pipeline.Manifest(
        manifest.window,
        SMALL.with_overrides({"fraud_rate": 0.3}),
        manifest.rows,
        manifest.fingerprint,
        manifest.scenarios,
    )
    with pytest.raises(pipeline.FingerprintMismatch):
        pipeline.regenerate(tampered)


def test_history_shapes_decisions(db: psycopg.Connection, rule_set) -> None:
    """Scoring is deterministic given what was loaded before the window."""
    later = Window(NOON + timedelta(minutes=30), NOON + timedelta(minutes=31))
    cold = pipeline.run_window(db, SMALL, rule_set, later)
    cold_rows = window_rows(db, later)
    for i in range(30):
        pipeline.run_window(db, SMALL, rule_set, minute(i))
    warm = pipeline.run_window(db, SMALL, rule_set, later)
    warm_rows = window_rows(db, later)
    assert cold.summary.rows == warm.summary.rows
    assert cold_rows != warm_rows  # some rule saw the new history
    pipeline.run_window(db, SMALL, rule_set, later)
    assert window_rows(db, later) == warm_rows


RECONCILE_STATS = """
SELECT coalesce(s.minute, d.minute), s.txns, d.txns, s.amount, d.amount
FROM (SELECT minute, trans_type, decision, injected_fraud, sum(txns) AS txns, sum(amount) AS amount
      FROM banking_minute_stats GROUP BY 1, 2, 3, 4) s
FULL JOIN (SELECT date_trunc('minute', "timestamp") AS minute, trans_type, decision,
                  fraud_scenario IS NOT NULL AS injected_fraud, count(*) AS txns, sum(amount) AS amount
           FROM banking_data GROUP BY 1, 2, 3, 4) d
  USING (minute, trans_type, decision, injected_fraud)
WHERE s.txns IS DISTINCT FROM d.txns OR s.amount IS DISTINCT FROM d.amount
"""
RECONCILE_HITS = """
SELECT * FROM (SELECT minute, rule_id, decision, injected_fraud, sum(hits) AS hits FROM banking_minute_rule_hits
               GROUP BY 1, 2, 3, 4) r
FULL JOIN (SELECT date_trunc('minute', "timestamp") AS minute, h ->> 'rule' AS rule_id, decision,
                  fraud_scenario IS NOT NULL AS injected_fraud, count(*) AS hits
           FROM banking_data, jsonb_array_elements(rule_hits) h GROUP BY 1, 2, 3, 4) d
  USING (minute, rule_id, decision, injected_fraud)
WHERE r.hits IS DISTINCT FROM d.hits
"""


def test_rollups_match_the_rows_after_reruns(db: psycopg.Connection, rule_set) -> None:
    long_window = Window(NOON + timedelta(minutes=10), NOON + timedelta(minutes=13))
    for window in (minute(0), minute(1), minute(0), long_window, long_window):
        pipeline.run_window(db, SMALL.with_overrides({"fraud_rate": 0.2}), rule_set, window)
    assert db.execute("SELECT count(*) FROM banking_minute_stats").fetchone()[0] > 0
    assert db.execute("SELECT count(*) FROM banking_minute_rule_hits").fetchone()[0] > 0
    assert db.execute(RECONCILE_STATS).fetchall() == []
    assert db.execute(RECONCILE_HITS).fetchall() == []
    minutes = db.execute("SELECT count(DISTINCT minute) FROM banking_minute_stats").fetchone()[0]
    assert minutes == 5  # two one-minute windows and the three minutes of the long one


# --- the hourly rollups ---------------------------------------------------------------------------

HOURS_VS_MINUTES = {
    "banking_hour_stats": (
        "SELECT hour, trans_type, decision, injected_fraud, txns, amount FROM banking_hour_stats",
        """SELECT date_trunc('hour', minute, 'UTC'), trans_type, decision, injected_fraud, sum(txns), sum(amount)
           FROM banking_minute_stats GROUP BY 1, 2, 3, 4""",
    ),
    "banking_hour_rule_hits": (
        "SELECT hour, rule_id, decision, injected_fraud, hits, amount FROM banking_hour_rule_hits",
        """SELECT date_trunc('hour', minute, 'UTC'), rule_id, decision, injected_fraud, sum(hits), sum(amount)
           FROM banking_minute_rule_hits GROUP BY 1, 2, 3, 4""",
    ),
    "banking_hour_blacklisted": (
        "SELECT hour, account_holder_name, txns FROM banking_hour_blacklisted",
        """SELECT date_trunc('hour', "timestamp", 'UTC'), account_holder_name, count(*)
           FROM banking_data WHERE account_blacklisted GROUP BY 1, 2""",
    ),
}
HOURS_VS_ROWS = {
    "banking_hour_stats": (
        "SELECT hour, trans_type, decision, injected_fraud, txns, amount FROM banking_hour_stats",
        """SELECT date_trunc('hour', "timestamp", 'UTC'), trans_type, decision, fraud_scenario IS NOT NULL,
                  count(*), sum(amount)
           FROM banking_data GROUP BY 1, 2, 3, 4""",
    ),
    "banking_hour_rule_hits": (
        "SELECT hour, rule_id, decision, injected_fraud, hits, amount FROM banking_hour_rule_hits",
        """SELECT date_trunc('hour', "timestamp", 'UTC'), h ->> 'rule', decision, fraud_scenario IS NOT NULL,
                  count(*), sum(amount)
           FROM banking_data, jsonb_array_elements(rule_hits) h GROUP BY 1, 2, 3, 4""",
    ),
}


def differences(conn: psycopg.Connection, pairs: dict[str, tuple[str, str]], since=None) -> dict:
    """Per table, the rows of the rollup and of what it should hold that differ (from ``since``)."""
    found = {}
    for table, (actual, expected) in pairs.items():
        got, want = (
            {row for row in conn.execute(query).fetchall() if since is None or row[0] >= since}
            for query in (actual, expected)
        )
        if got != want:
            found[table] = (sorted(got - want), sorted(want - got))
    return found


def hours_in(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(DISTINCT hour) FROM {table}").fetchone()[0]


# The daily rollups: the sum of their hours, and of banking_data's rows.
DAYS_VS_HOURS = {
    "banking_day_stats": (
        "SELECT day, trans_type, decision, injected_fraud, txns, amount FROM banking_day_stats",
        """SELECT date_trunc('day', hour, 'UTC'), trans_type, decision, injected_fraud, sum(txns), sum(amount)
           FROM banking_hour_stats GROUP BY 1, 2, 3, 4""",
    ),
    "banking_day_rule_hits": (
        "SELECT day, rule_id, decision, injected_fraud, hits, amount FROM banking_day_rule_hits",
        """SELECT date_trunc('day', hour, 'UTC'), rule_id, decision, injected_fraud, sum(hits), sum(amount)
           FROM banking_hour_rule_hits GROUP BY 1, 2, 3, 4""",
    ),
    "banking_day_blacklisted": (
        "SELECT day, account_holder_name, txns FROM banking_day_blacklisted",
        """SELECT date_trunc('day', hour, 'UTC'), account_holder_name, sum(txns)
           FROM banking_hour_blacklisted GROUP BY 1, 2""",
    ),
}
DAYS_VS_ROWS = {
    "banking_day_stats": (
        DAYS_VS_HOURS["banking_day_stats"][0],
        """SELECT date_trunc('day', "timestamp", 'UTC'), trans_type, decision, fraud_scenario IS NOT NULL,
                  count(*), sum(amount)
           FROM banking_data GROUP BY 1, 2, 3, 4""",
    ),
    "banking_day_rule_hits": (
        DAYS_VS_HOURS["banking_day_rule_hits"][0],
        """SELECT date_trunc('day', "timestamp", 'UTC'), h ->> 'rule', decision, fraud_scenario IS NOT NULL,
                  count(*), sum(amount)
           FROM banking_data, jsonb_array_elements(rule_hits) h GROUP BY 1, 2, 3, 4""",
    ),
    "banking_day_blacklisted": (
        DAYS_VS_HOURS["banking_day_blacklisted"][0],
        """SELECT date_trunc('day', "timestamp", 'UTC'), account_holder_name, count(*)
           FROM banking_data WHERE account_blacklisted GROUP BY 1, 2""",
    ),
}
ROLLUPS_VS_BELOW = {**HOURS_VS_MINUTES, **DAYS_VS_HOURS}


def days_in(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(DISTINCT day) FROM {table}").fetchone()[0]


def test_hour_rollups_are_the_sum_of_the_minutes_after_reruns(db: psycopg.Connection, rule_set) -> None:
    """Windows across hour boundaries, reruns with other rows (another fraud rate), a long window."""
    calm, spiky = SMALL, SMALL.with_overrides({"fraud_rate": 0.3})
    across = Window(NOON - timedelta(minutes=2), NOON + timedelta(minutes=2))
    long_window = Window(NOON + timedelta(minutes=30), NOON + timedelta(hours=2, minutes=10))
    for settings, window in (
        (calm, across),
        (calm, minute(2)),
        (spiky, across),  # the rerun replaces the hours' share of the first run
        (spiky, long_window),
        (calm, long_window),
        (spiky, minute(2)),
    ):
        pipeline.run_window(db, settings, rule_set, window)
        assert differences(db, ROLLUPS_VS_BELOW) == {}, window
    assert differences(db, {**HOURS_VS_ROWS, **DAYS_VS_ROWS}) == {}
    # 11:00 .. 14:00, of one day
    for table in ("banking_hour_stats", "banking_hour_rule_hits", "banking_hour_blacklisted"):
        assert hours_in(db, table) == 4, table
        assert days_in(db, table.replace("hour", "day")) == 1, table


def test_concurrent_loads_of_the_same_hours_take_turns(
    empty_db: tuple[str, psycopg.Connection], db: psycopg.Connection, pg, rule_set, monkeypatch
) -> None:
    """Loads on three connections (one a window of two hours, which locks every hour at once) write
    the same hours at the same time: no deadlock, and the hours add up."""
    import threading

    monkeypatch.setattr(rollups, "MAX_LOCKED_HOURS", 1)
    name, _ = empty_db
    plans = [
        [minute(i) for i in range(0, 12, 2)],
        [minute(i) for i in range(1, 12, 2)],
        [Window(NOON - timedelta(minutes=30), NOON + timedelta(hours=1, minutes=30))],
    ]
    errors: list[BaseException] = []

    def load(windows: list[Window]) -> None:
        try:
            with pg.connect(name) as conn:
                for window in windows:
                    pipeline.run_window(conn, SMALL, rule_set, window)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(t.is_alive() for t in threads) and errors == []
    assert differences(db, ROLLUPS_VS_BELOW) == {}
    assert differences(db, {**HOURS_VS_ROWS, **DAYS_VS_ROWS}) == {}


def test_retention_keeps_the_hours_equal_to_what_is_left(db: psycopg.Connection, rule_set) -> None:
    """Days before the cutoff go with their partitions, minutes, hours and days: a window loaded
    across the cutoff keeps only its minutes after it; the blacklisted hours follow the rows."""
    from banking.store import retention

    next_day = NOON.replace(hour=0) + timedelta(days=1)
    across_midnight = Window(next_day - timedelta(minutes=2), next_day + timedelta(minutes=2))
    windows = [
        minute(0),
        across_midnight,
        Window(next_day + timedelta(hours=1), next_day + timedelta(hours=1, minutes=5)),
    ]
    for window in windows:
        pipeline.run_window(db, SMALL.with_overrides({"fraud_rate": 0.2}), rule_set, window)
    assert differences(db, {**HOURS_VS_ROWS, **DAYS_VS_ROWS}) == {}
    assert days_in(db, "banking_day_stats") == 2
    result = retention.apply_retention(db, next_day + timedelta(days=1, hours=2), retention_days=1)
    assert result.partitions == [f"banking_data_p{NOON:%Y%m%d}"]
    assert differences(db, ROLLUPS_VS_BELOW) == {}
    for table, column in (("banking_minute_stats", "minute"), ("banking_hour_stats", "hour")):
        left = db.execute(f"SELECT count(*) FROM {table} WHERE {column} < %s", (next_day,))
        assert left.fetchone() == (0,), table
    left = db.execute("SELECT count(*) FROM banking_hour_blacklisted WHERE hour < %s", (next_day,))
    assert left.fetchone() == (0,)
    assert differences(db, HOURS_VS_ROWS, since=next_day) == {}
    assert hours_in(db, "banking_hour_stats") == 2  # 00:00 and 01:00
    assert differences(db, DAYS_VS_ROWS, since=next_day) == {}
    days = db.execute("SELECT day FROM banking_day_stats GROUP BY 1 ORDER BY 1").fetchall()
    assert days == [(next_day,)]
    left = db.execute("SELECT count(*) FROM banking_day_blacklisted WHERE day < %s", (next_day,))
    assert left.fetchone() == (0,)
    audit = db.execute("SELECT min(window_start), sum(rows) FROM banking_batches").fetchone()
    assert audit == (next_day, db.execute("SELECT count(*) FROM banking_data").fetchone()[0])


# --- the daily rollups ------------------------------------------------------------------------------


def test_day_rollups_are_the_sum_of_the_hours_after_reruns(
    db: psycopg.Connection, rule_set, monkeypatch
) -> None:
    """Windows across midnight, on hour locks and under the lock on all hours, rerun with other rows."""
    monkeypatch.setattr(rollups, "MAX_LOCKED_HOURS", 2)
    calm, spiky = SMALL, SMALL.with_overrides({"fraud_rate": 0.3})
    midnight = NOON.replace(hour=0) + timedelta(days=1)
    across = Window(midnight - timedelta(minutes=2), midnight + timedelta(minutes=2))  # two hours
    long_across = Window(  # three hours: all of them locked at once
        midnight + timedelta(hours=22, minutes=30), midnight + timedelta(days=1, minutes=30)
    )
    for settings, window in (
        (calm, minute(0)),
        (calm, across),
        (spiky, across),
        (calm, long_across),
        (spiky, long_across),
        (spiky, minute(0)),
    ):
        pipeline.run_window(db, settings, rule_set, window)
        assert differences(db, ROLLUPS_VS_BELOW) == {}, window
    assert differences(db, {**HOURS_VS_ROWS, **DAYS_VS_ROWS}) == {}
    for table in ("banking_day_stats", "banking_day_rule_hits"):
        assert days_in(db, table) == 3, table  # the day of NOON and the two after it


def test_a_load_of_another_hour_of_the_same_day_waits_for_the_day(
    empty_db: tuple[str, psycopg.Connection], db: psycopg.Connection, pg, rule_set
) -> None:
    """Two loads of different hours of one day share no hour lock: the second one waits on the day's
    lock until the first commits, then recomputes the day from the hours of both."""
    name, _ = empty_db
    early = Window(NOON - timedelta(hours=2), NOON - timedelta(hours=2) + timedelta(minutes=1))
    late = Window(NOON + timedelta(hours=2), NOON + timedelta(hours=2, minutes=1))
    partitions.ensure_partitions(db, early)  # else the second would wait for the first's new partition
    day_number = (NOON - EPOCH).days
    waiting, outcome = second_waits(
        pg,
        name,
        db,
        lambda conn: pipeline.run_window(conn, SMALL, rule_set, early),
        lambda conn: pipeline.run_window(conn, SMALL, rule_set, late).load.inserted,
        "banking_day_rollups",
    )
    assert waiting == [(True, day_number)], "the second load should wait for the day's lock"
    assert len(outcome) == 1 and isinstance(outcome[0], int) and outcome[0] > 0, outcome
    assert differences(db, ROLLUPS_VS_BELOW) == {}
    assert differences(db, {**HOURS_VS_ROWS, **DAYS_VS_ROWS}) == {}
    assert days_in(db, "banking_day_stats") == 1 and hours_in(db, "banking_hour_stats") == 2


def test_the_migration_fills_the_days_of_what_was_loaded(db: psycopg.Connection, rule_set) -> None:
    """Migration 0011 computes the days from the hours that loads before it left (run again here on
    emptied daily tables, as if the data had been loaded before it)."""
    from banking.store import schema

    midnight = NOON.replace(hour=0) + timedelta(days=1)
    for window in (minute(0), Window(midnight - timedelta(minutes=2), midnight + timedelta(minutes=2))):
        pipeline.run_window(db, SMALL.with_overrides({"fraud_rate": 0.2}), rule_set, window)
    for table in DAYS_VS_HOURS:
        db.execute(f"DELETE FROM {table}")
    db.execute("DELETE FROM banking_schema_migrations WHERE name = '0011_day_rollups'")
    assert schema.apply_migrations(db) == ["0011_day_rollups"]
    assert differences(db, {**DAYS_VS_HOURS, **DAYS_VS_ROWS}) == {}
    assert days_in(db, "banking_day_stats") == 2
