"""The load: one COPY in one transaction that replaces the window; reruns change nothing."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from banking import loader, pipeline
from banking.model import Window
from tests.conftest import DAY, SMALL

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
    lines = loader.encode_rows(batch, scores, summary.rule_set_version).split(b"\n")
    lines[len(lines) // 2] = b"this is not a row"
    monkeypatch.setattr(loader, "encode_chunks", lambda *args: iter([b"\n".join(lines)]))
    with pytest.raises(psycopg.errors.DataError):
        loader.replace_window(db, batch, scores, summary)
    assert window_rows(db, w) == before
    assert db.execute("SELECT loads FROM banking_batches").fetchall() == [(1,)]


def test_a_batch_of_unknown_population_is_refused(db: psycopg.Connection, rule_set) -> None:
    other = SMALL.with_overrides({"seed": 99})
    with pytest.raises(loader.LoadError, match="run the banking_schema DAG"):
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
    with pytest.raises(loader.LoadError, match="nothing is staged"):
        pipeline.load(db, manifest)


def test_staged_scores_round_trip(db: psycopg.Connection, rule_set) -> None:
    """What the load task reads back is exactly what the score task computed."""
    batch, _ = pipeline.generate(SMALL.with_overrides({"fraud_rate": 0.2}), minute(7))
    scores = pipeline.score(db, batch, rule_set)
    assert scores.explanations  # some rule fired, so the texts travel too
    back = loader.unpack_scores(loader.pack_scores(scores))
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

    with pytest.raises(loader.LoadError, match="another version of the pipeline"):
        loader.unpack_scores(zlib.compress(b"\x02\x00\x00\x00{}"))


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
