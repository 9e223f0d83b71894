"""Backtests in process against a real PostgreSQL: replay fidelity, metrics, isolation, bad input."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from banking import tasks
from banking.backtest import replay, spec, stored
from banking.backtest.scoreboard import CANDIDATE, LIVE, OVERALL
from banking.db import sql
from banking.rules import config
from banking.rules.rule_set import RuleSet
from banking.store import schema
from tests.backtest.common import (
    PARTIAL,
    RANGE,
    RANGE_MINUTES,
    backtest_rows,
    counts,
    load_windows,
    minutes,
    params,
    snapshot,
    stricter_rules,
)
from tests.helpers import SMALL
from tests.pg import TestServer

pytestmark = pytest.mark.db

IN_RANGE = 'd."timestamp" >= %(start)s AND d."timestamp" < %(end)s AND d.window_end <= %(end)s'
BOUNDS = {"start": RANGE.start, "end": RANGE.end}


def test_live_rules_reproduce_every_live_decision(
    loaded: psycopg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="banking.backtest")
    report = replay.run_on(loaded, params("live-check"))

    expected = loaded.execute(f"SELECT count(*) FROM banking_data d WHERE {IN_RANGE}", BOUNDS).fetchone()[0]
    assert report.rows == expected > 0
    assert report.windows == RANGE_MINUTES and report.skipped_windows == 0
    assert report.changed == 0
    # Every transaction of the replayed windows, and nothing else, has the same verdict as live.
    mismatches = loaded.execute(
        f"""
        SELECT count(*) FROM banking_data d
        FULL JOIN (SELECT * FROM banking_backtest_results WHERE backtest_id = 'live-check') r
            ON r."timestamp" = d."timestamp" AND r.uniq_id = d.uniq_id
        WHERE (d.uniq_id IS NULL OR ({IN_RANGE}))
          AND (r.uniq_id IS NULL OR d.uniq_id IS NULL
               OR (r.decision, r.risk_score, r.rules_triggered, r.rules_explanation, r.rule_hits,
                   r.live_decision, r.amount, r.fraud_scenario, r.window_start, r.window_end)
                  IS DISTINCT FROM
                  (d.decision, d.risk_score, d.rules_triggered::text, d.rules_explanation, d.rule_hits,
                   d.decision, d.amount, d.fraud_scenario, d.window_start, d.window_end))
        """,
        BOUNDS,
    ).fetchone()[0]
    assert mismatches == 0
    partial = loaded.execute(
        "SELECT count(DISTINCT window_start) FROM banking_backtest_results WHERE window_start >= %s",
        (PARTIAL.start,),
    ).fetchone()[0]
    assert partial == 2  # the minutes of PARTIAL inside the range

    live = {(m.rule_id, m.hits, m.rejected, m.true_positives) for m in report.metrics if m.variant == LIVE}
    cand = {
        (m.rule_id, m.hits, m.rejected, m.true_positives) for m in report.metrics if m.variant == CANDIDATE
    }
    assert live == cand
    run = loaded.execute(
        "SELECT status, windows, skipped_windows, rows, changed, live_versions, candidate_version "
        "FROM banking_backtest_runs WHERE backtest_id = 'live-check'"
    ).fetchone()
    version = config.load_rules().version
    assert run == ("succeeded", RANGE_MINUTES, 0, report.rows, 0, [version], version)
    # Chunks of 10 minutes over 22 minutes: three.
    progress = [r.getMessage() for r in caplog.records if "chunk " in r.getMessage()]
    assert [p.split(" chunk ")[1].split(" ")[0] for p in progress] == ["1/3", "2/3", "3/3"]
    assert "100%" in progress[-1]
    assert "live:" in caplog.text and "candidate:" in caplog.text


def test_a_stricter_threshold_rejects_more_and_its_metrics_match_plain_sql(
    loaded: psycopg.Connection,
) -> None:
    report = replay.run_on(loaded, params("strict", rules_file=None, rules_json=stricter_rules(40)))
    assert report.metric(CANDIDATE).rejected > report.metric(LIVE).rejected
    assert report.changed > 0

    # Count independently: live from banking_data, candidate from its results (+ ground truth).
    live = f"""
        SELECT h.hit ->> 'rule' AS rule_id, TRUE AS hit, d.decision, d.amount, d.fraud_scenario IS NOT NULL AS fraud
        FROM banking_data d CROSS JOIN LATERAL jsonb_array_elements(d.rule_hits) h(hit) WHERE {IN_RANGE}
        UNION ALL
        SELECT '*', d.rule_hits <> '[]', d.decision, d.amount, d.fraud_scenario IS NOT NULL
        FROM banking_data d WHERE {IN_RANGE}
    """
    candidate = """
        SELECT h.hit ->> 'rule' AS rule_id, TRUE AS hit, r.decision, d.amount, d.fraud_scenario IS NOT NULL AS fraud
        FROM banking_backtest_results r
        JOIN banking_data d ON d."timestamp" = r."timestamp" AND d.uniq_id = r.uniq_id
        CROSS JOIN LATERAL jsonb_array_elements(r.rule_hits) h(hit) WHERE r.backtest_id = 'strict'
        UNION ALL
        SELECT '*', r.rule_hits <> '[]', r.decision, d.amount, d.fraud_scenario IS NOT NULL
        FROM banking_backtest_results r
        JOIN banking_data d ON d."timestamp" = r."timestamp" AND d.uniq_id = r.uniq_id
        WHERE r.backtest_id = 'strict'
    """
    fraud_total, transactions = loaded.execute(
        f"SELECT count(*) FILTER (WHERE d.fraud_scenario IS NOT NULL), count(*) FROM banking_data d WHERE {IN_RANGE}",
        BOUNDS,
    ).fetchone()
    assert fraud_total > 0
    stored = {
        (variant, rule_id): rest
        for variant, rule_id, *rest in loaded.execute(
            "SELECT variant, rule_id, transactions, hits, rejected, rejected_amount, flagged, true_positives, "
            'fraud_total, "precision", recall FROM banking_backtest_metrics WHERE backtest_id = %s',
            ("strict",),
        )
    }
    counted = {}
    for variant, query in ((LIVE, live), (CANDIDATE, candidate)):
        rows = loaded.execute(
            f"""
            SELECT rule_id,
                   count(*) FILTER (WHERE hit),
                   count(*) FILTER (WHERE decision = 'Rejected'),
                   coalesce(sum(amount) FILTER (WHERE decision = 'Rejected'), 0),
                   count(*) FILTER (WHERE hit AND fraud),
                   count(*) FILTER (WHERE decision = 'Rejected' AND fraud)
            FROM ({query}) t GROUP BY rule_id
            """,
            BOUNDS,
        ).fetchall()
        for rule_id, hits, rejected, rejected_amount, hit_fraud, rejected_fraud in rows:
            flagged, tp = (rejected, rejected_fraud) if rule_id == OVERALL else (hits, hit_fraud)
            counted[(variant, rule_id)] = [
                transactions,
                hits,
                rejected,
                rejected_amount,
                flagged,
                tp,
                fraud_total,
                tp / flagged if flagged else None,
                tp / fraud_total,
            ]
    never_hit = [transactions, 0, 0, Decimal("0.00"), 0, 0, fraud_total, None, 0.0]
    assert stored == {key: counted.get(key, never_hit) for key in stored}
    assert set(counted) <= set(stored)
    assert len(counted) >= 2 * 5  # overall and most rules of both variants fired here
    # Rules that never fired still get a row (with zeros) in both variants.
    assert len(stored) == 2 * (1 + len(config.load_rules().enabled_rules))


@pytest.mark.parametrize("role", [None, "banking_writer"])
def test_banking_data_is_never_changed(loaded: psycopg.Connection, role: str | None) -> None:
    before = snapshot(loaded)
    if role:
        loaded.execute(f"SET ROLE {role}")
    report = replay.run_on(loaded, params("isolation", rules_file=None, rules_json=stricter_rules(35)))
    loaded.execute("RESET ROLE")
    assert report.changed > 0
    assert snapshot(loaded) == before
    assert counts(loaded)["banking_backtest_results"] == report.rows


def test_the_reader_role_reads_live_vs_candidate_and_cannot_change_anything(
    loaded: psycopg.Connection,
) -> None:
    report = replay.run_on(loaded, params("visible", rules_file=None, rules_json=stricter_rules(40)))
    loaded.execute("SET ROLE banking_reader")
    panel = loaded.execute(sql("backtest/live_vs_candidate"), {"backtest_id": "visible"}).fetchall()
    assert [row[0] for row in panel] == [OVERALL, *sorted(r.id for r in config.load_rules().enabled_rules)]
    overall = panel[0]
    live, candidate = report.metric(LIVE), report.metric(CANDIDATE)
    assert overall[1:9] == (
        live.hits,
        candidate.hits,
        live.rejected,
        candidate.rejected,
        live.rejected_amount,
        candidate.rejected_amount,
        live.true_positives,
        candidate.true_positives,
    )
    assert counts(loaded)["banking_backtest_results"] == report.rows
    for statement in (
        "DELETE FROM banking_backtest_metrics",
        "UPDATE banking_backtest_runs SET status = 'failed'",
        "INSERT INTO banking_backtest_results SELECT * FROM banking_backtest_results LIMIT 1",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            loaded.execute(statement)


def test_a_rerun_with_the_same_id_gives_identical_results(loaded: psycopg.Connection) -> None:
    strict = stricter_rules(40)
    replay.run_on(loaded, params("again", rules_file=None, rules_json=strict, chunk_minutes=7))
    first = {
        t: backtest_rows(loaded, t, "again") for t in ("banking_backtest_results", "banking_backtest_metrics")
    }
    # Another id in between, and other chunks: neither changes what the id stores.
    replay.run_on(loaded, params("other"))
    replay.run_on(loaded, params("again", rules_file=None, rules_json=strict, chunk_minutes=1440))
    again = {
        t: backtest_rows(loaded, t, "again") for t in ("banking_backtest_results", "banking_backtest_metrics")
    }
    assert again == first
    assert first["banking_backtest_results"]
    assert loaded.execute("SELECT count(*) FROM banking_backtest_runs").fetchone()[0] == 2


def test_a_rerun_over_a_shorter_range_drops_the_rows_outside_it(loaded: psycopg.Connection) -> None:
    replay.run_on(loaded, params("shrink"))
    report = replay.run_on(loaded, params("shrink", end=minutes(0, 10).end.isoformat()))
    stored = loaded.execute(
        "SELECT count(*), max(window_end) FROM banking_backtest_results WHERE backtest_id = 'shrink'"
    ).fetchone()
    assert stored == (report.rows, minutes(0, 10).end)


BAD_INPUT = {
    "bad-id": ({"backtest_id": "Not OK!"}, "backtest_id must match"),
    "no-rules": ({"rules_file": None}, "give the candidate rules"),
    "both-rules": ({"rules_json": stricter_rules()}, "either rules_file or rules_json"),
    "invalid-rules": (
        {"rules_file": None, "rules_json": {**stricter_rules(), "thresholds": {"reject": 500}}},
        "rules_json: field 'thresholds.reject' must be an integer from 1 to 100",
    ),
    "unknown-rule-type": (
        {"rules_file": None, "rules_json": {**stricter_rules(), "rules": [{"id": "x", "type": "magic"}]}},
        "rule 'x'",
    ),
    "rules-not-an-object": ({"rules_file": None, "rules_json": ["a"]}, "must be a JSON object"),
    "file-outside-include": ({"rules_file": "../pyproject.toml"}, "inside include/"),
    "absolute-file": ({"rules_file": "/etc/passwd"}, "inside include/"),
    "missing-file": ({"rules_file": "rules/nope.yaml"}, "cannot read rule file"),
    "not-a-rule-file": ({"rules_file": "sql/backtest/windows.sql"}, "unsupported rule file type"),
    "reversed": ({"start": RANGE.end.isoformat(), "end": RANGE.start.isoformat()}, "empty or reversed"),
    "empty": ({"end": RANGE.start.isoformat()}, "empty or reversed"),
    "not-a-date": ({"start": "yesterday"}, "start must be an ISO 8601 datetime"),
    "no-data": ({"start": "2025-01-01T00:00:00Z", "end": "2025-01-02T00:00:00Z"}, "no data in"),
    "only-partial": (
        {
            "start": (minutes(26, 27).start + timedelta(seconds=30)).isoformat(),
            "end": (minutes(26, 27).end + timedelta(seconds=30)).isoformat(),
        },
        "overlap it only partly",
    ),
    "chunk-zero": ({"chunk_minutes": 0}, "chunk_minutes must be an integer"),
    "unknown-param": ({"window_minutes": 5}, "unknown backtest param(s) window_minutes"),
}


@pytest.fixture(scope="module")
def kept(pg: TestServer, rule_set: RuleSet) -> Iterator[psycopg.Connection]:
    """One loaded database for every bad-input case, holding a good result under the id "keep"."""
    name = pg.create_database()
    with pg.connect(name) as conn:
        schema.apply_migrations(conn)
        schema.seed_population(conn, SMALL)
        load_windows(conn, rule_set)
        replay.run_on(conn, params("keep"))
        yield conn


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_refused_and_nothing_is_written(kept: psycopg.Connection, case: str) -> None:
    outputs = ("banking_backtest_results", "banking_backtest_metrics")
    before = snapshot(kept), {t: backtest_rows(kept, t, "keep") for t in outputs}, counts(kept)
    overrides, message = BAD_INPUT[case]
    bad = {**params("keep"), **overrides}
    with pytest.raises((spec.BacktestInputError, config.RuleConfigError)) as caught:
        replay.run_on(kept, bad)
    assert message in str(caught.value)
    # A permanent error: tasks.fail_fast() fails the task at once instead of retrying it.
    assert isinstance(caught.value, tasks.PERMANENT_ERRORS)
    after = snapshot(kept), {t: backtest_rows(kept, t, "keep") for t in outputs}, counts(kept)
    assert after == before
    assert before[2]["banking_backtest_runs"] == 1
    assert kept.execute("SELECT status FROM banking_backtest_runs").fetchone()[0] == "succeeded"


def test_a_backtest_already_running_under_the_same_id_is_refused(
    loaded: psycopg.Connection, pg: TestServer
) -> None:
    name = loaded.execute("SELECT current_database()").fetchone()[0]
    with pg.connect(name) as other:
        other.execute("SELECT pg_advisory_lock(hashtext('banking_backtest'), hashtext('busy'))")
        with pytest.raises(replay.BacktestBusy):
            replay.run_on(loaded, params("busy"))
    assert counts(loaded)["banking_backtest_runs"] == 0
    replay.run_on(loaded, params("busy"))  # once the other session let go


def test_a_failure_half_way_is_recorded_and_a_rerun_recovers(
    loaded: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(loaded)
    real_score, calls = stored.score_stored_window, []

    def flaky_score(*args, **kwargs):
        calls.append(1)
        if len(calls) == 12:  # in the second chunk
            raise psycopg.OperationalError("connection lost")
        return real_score(*args, **kwargs)

    monkeypatch.setattr(stored, "score_stored_window", flaky_score)
    with pytest.raises(psycopg.OperationalError):
        replay.run_on(loaded, params("crash"))
    status, error = loaded.execute("SELECT status, error FROM banking_backtest_runs").fetchone()
    assert status == "failed" and "connection lost" in error
    assert counts(loaded)["banking_backtest_metrics"] == 0
    assert snapshot(loaded) == before

    monkeypatch.setattr(stored, "score_stored_window", real_score)
    report = replay.run_on(loaded, params("crash"))  # the lock was released; the rerun starts over
    assert counts(loaded)["banking_backtest_results"] == report.rows
    assert loaded.execute("SELECT status, error FROM banking_backtest_runs").fetchone() == ("succeeded", None)
