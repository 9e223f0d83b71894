"""The soak of ``make soak`` (scripts/soak.py) on a few windows, and its audit catching real damage."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from scripts import soak

from tests.helpers import DAY
from tests.reliability.helpers import BankingDb

START = DAY.replace(hour=9)
WINDOWS = 6


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """soak.main quiets the package loggers, as a command-line tool does; undo it for other tests."""
    names = ("banking", "airflow", "pgserver")
    levels = {n: logging.getLogger(n).level for n in names}
    root = logging.getLogger()
    handlers, root_level = list(root.handlers), root.level
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    root.handlers[:], root.level = handlers, root_level


def test_a_short_soak_is_clean(
    logging_restored: None, banking_env: BankingDb, capsys: pytest.CaptureFixture[str]
) -> None:
    code = soak.main(["--windows", str(WINDOWS), "--start", START.isoformat()])
    out = capsys.readouterr().out
    assert code == 0, out
    figures = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    assert figures["windows"] == str(WINDOWS) and figures["ok"] == "yes"
    for name in ("failures", "duplicates", "missing_windows", "unreconciled_windows", "staged_left"):
        assert figures[name] == "0", name
    assert int(figures["rows"]) == int(figures["rows_loaded"]) > 0
    assert float(figures["seconds"]) >= 0 and float(figures["windows_per_s"]) > 0
    batches = banking_env.conn.execute(
        "SELECT count(*), sum(rows), max(loads) FROM banking_batches"
    ).fetchone()
    assert batches == (WINDOWS, int(figures["rows"]), 1)


def test_soak_again_replaces_the_same_windows(banking_env: BankingDb) -> None:
    first = soak.run_soak(3, START)
    again = soak.run_soak(3, START)
    assert first.ok and again.ok and again.audit.rows == first.audit.rows == first.rows_loaded
    assert banking_env.conn.execute("SELECT count(*), min(loads) FROM banking_batches").fetchone() == (3, 2)


def test_the_audit_finds_damage(banking_env: BankingDb) -> None:
    """Each kind of damage the soak must catch is caught: the checks can fail."""
    conn = banking_env.conn
    result = soak.run_soak(3, START)
    assert result.ok
    failed = dataclasses.replace(result, failures=[(START, "OperationalError: server closed the connection")])
    assert not failed.ok and "failures: 1" in failed.lines() and "ok: no" in failed.lines()
    end = START + timedelta(minutes=3)
    expected = [(START + timedelta(minutes=i), START + timedelta(minutes=i + 1)) for i in range(3)]

    def problems(expected_windows: list = expected) -> list[str]:
        return soak.audit(conn, START, end, expected_windows).problems

    assert problems() == []
    assert any("without an audit row" in p for p in problems([*expected, (end, end + timedelta(minutes=1))]))
    conn.execute(
        "INSERT INTO banking_staging (window_start, window_end, rows, summary, payload) "
        "VALUES (%s, %s, 0, '{}', '')",
        expected[0],
    )
    assert any("staged payload" in p for p in problems())
    conn.execute("DELETE FROM banking_staging")
    conn.execute(
        'DELETE FROM banking_data WHERE ("timestamp", uniq_id) IN '
        '(SELECT "timestamp", uniq_id FROM banking_data WHERE window_start = %s LIMIT 1)',
        (expected[1][0],),
    )
    assert any("audit row != their rows" in p for p in problems())
    conn.execute("DELETE FROM banking_batches WHERE window_start = %s", (expected[2][0],))
    found = problems()
    assert any("without an audit row" in p for p in found) and len(found) >= 2
