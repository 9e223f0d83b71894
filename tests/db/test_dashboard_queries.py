"""The original dashboard's seven queries run unchanged and answer sensibly after a few windows."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from banking import pipeline
from banking.model import TRANS_TYPES, Window
from tests.helpers import DAY, SMALL

SEED_QUERIES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "seed_dashboard_queries.sql"
)


def seed_queries() -> list[str]:
    text = SEED_QUERIES.read_text()
    statements = []
    for chunk in text.split(";"):
        body = "\n".join(line for line in chunk.splitlines() if not line.strip().startswith("--")).strip()
        if body:
            statements.append(body)
    return statements


@pytest.fixture
def loaded(db: psycopg.Connection, rule_set) -> psycopg.Connection:
    start = DAY.replace(hour=12)
    for i in range(5):
        pipeline.run_window(
            db, SMALL, rule_set, Window(start + timedelta(minutes=i), start + timedelta(minutes=i + 1))
        )
    return db


def test_seed_queries_run_unchanged_as_the_reader(loaded: psycopg.Connection) -> None:
    if not SEED_QUERIES.exists() and not os.environ.get("CI"):
        pytest.skip("../shared/reference is not beside the checkout")
    queries = seed_queries()
    assert len(queries) == 7
    loaded.execute("SET ROLE banking_reader")
    results = [loaded.execute(q).fetchall() for q in queries]
    rejected, approved, approved_sum, rejected_sum, types, rules_triggered, blacklisted = results
    total = loaded.execute("SELECT count(*) FROM banking_data").fetchone()[0]
    assert rejected[0][0] > 0 and approved[0][0] > rejected[0][0]
    assert rejected[0][0] + approved[0][0] <= total
    assert approved_sum[0][0] > 0 and rejected_sum[0][0] > 0
    assert {t for t, _ in types} == set(TRANS_TYPES) and sum(n for _, n in types) == total
    labels = {label for label, _ in rules_triggered}
    assert "No Rules Triggered" in labels and len(labels) > 1
    assert blacklisted and all(name and n > 0 for name, n in blacklisted)
