"""The binary COPY encoder: the server stores exactly the values psycopg's own adaptation stores."""

from __future__ import annotations

import dataclasses
import struct
from datetime import timedelta
from decimal import Decimal

import numpy as np
import psycopg
import pytest
from psycopg.types.json import Jsonb

from banking import pipeline
from banking.model import Window
from banking.store import copy_format
from banking.stream.population import population_for
from tests.builders import transactions_of
from tests.helpers import DAY, SMALL

COLUMNS = (
    '"timestamp", uniq_id, amount, amount_crr, window_start, window_end, trans_type, card_presense, channel, '
    "fraud_scenario, rule_set_version, rules_triggered, rules_explanation, decision, risk_score, rule_hits, "
    "account_holder_name, currency, home_country, account_id, account_blacklisted, card_ref, card_id, "
    "card_type, merchant_id, merchant_name, merchant_category, country, city"
)
WINDOW = Window(DAY.replace(hour=9), DAY.replace(hour=9) + timedelta(minutes=20))


def expected_rows(batch, scores, rule_set_version: str) -> list[tuple]:
    """The batch's rows as Python values, in COLUMNS order, for an INSERT through psycopg."""
    rows = []
    for i, t in enumerate(transactions_of(batch)):
        hits = [{"rule": h.rule_id, "score": h.score, "explanation": h.explanation} for h in scores.hits(i)]
        rows.append(
            (
                t.timestamp,
                t.uniq_id,
                Decimal(t.amount_cents).scaleb(-2),
                Decimal(t.amount_crr_cents).scaleb(-2),
                t.window_start,
                t.window_end,
                t.trans_type,
                t.card_presense,
                t.channel,
                t.fraud_scenario,
                rule_set_version,
                scores.rules_triggered(i),
                scores.rules_explanation(i),
                scores.decision_name(i),
                int(scores.risk_score[i]),
                Jsonb(hits),
                t.account_holder_name,
                t.currency,
                t.home_country,
                t.account_id,
                t.account_blacklisted,
                t.card_ref,
                t.card_id,
                t.card_type,
                t.merchant_id,
                t.merchant_name,
                t.merchant_category,
                t.country,
                t.city,
            )
        )
    return rows


TRICKY = ('quote " and backslash \\', "tab\tnew\nline", "Zoë Ødegård 東京 €", "\\N", "")


def test_copied_rows_equal_the_same_rows_inserted_by_psycopg(db: psycopg.Connection, rule_set) -> None:
    report = pipeline.run_window(db, SMALL, rule_set, WINDOW)  # history for the next window's rules
    window = Window(WINDOW.end, WINDOW.end + WINDOW.duration)
    batch, _ = pipeline.generate(SMALL, window)
    scores = pipeline.score(db, batch, rule_set)
    hit_rows = sorted(scores.explanations)
    assert report.summary.rows and len(hit_rows) > 5 and (batch.scenario >= 0).any()
    for n, i in enumerate(hit_rows[:5]):  # explanations that need quoting in JSON
        scores.explanations[i] = tuple(
            TRICKY[(n + k) % len(TRICKY)] for k in range(len(scores.explanations[i]))
        )
    db.execute("CREATE TEMP TABLE copied (LIKE banking_data INCLUDING ALL)")
    with db.cursor() as cur, cur.copy(f"COPY copied ({COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
        for chunk in copy_format.encode_chunks(batch, scores, rule_set.version, chunk_rows=100):
            copy.write(chunk)
    db.execute("CREATE TEMP TABLE inserted (LIKE banking_data INCLUDING ALL)")
    with db.cursor() as cur:
        cur.executemany(
            f"INSERT INTO inserted ({COLUMNS}) VALUES ({', '.join(['%s'] * 29)})",
            expected_rows(batch, scores, rule_set.version),
        )
    copied_only = db.execute("SELECT count(*) FROM (TABLE copied EXCEPT ALL TABLE inserted) d").fetchone()[0]
    inserted_only = db.execute("SELECT count(*) FROM (TABLE inserted EXCEPT ALL TABLE copied) d").fetchone()[
        0
    ]
    assert (copied_only, inserted_only) == (0, 0)
    assert db.execute("SELECT count(*) FROM copied").fetchone()[0] == len(batch)
    # the texts survive as written, in the explanation column and in the hits' JSON
    i = hit_rows[0]
    uniq = transactions_of(batch)[i].uniq_id
    explanation, hits = db.execute(
        "SELECT rules_explanation, rule_hits FROM copied WHERE uniq_id = %s", (uniq,)
    ).fetchone()
    assert explanation == "; ".join(scores.explanations[i])
    assert [h["explanation"] for h in hits] == list(scores.explanations[i])


def test_a_range_of_rows_is_a_complete_payload(db: psycopg.Connection, rule_set) -> None:
    batch, _ = pipeline.generate(SMALL, WINDOW)
    scores = pipeline.score(db, batch, rule_set)
    rows = range(len(batch) // 3, len(batch) // 3 + 7)
    db.execute("CREATE TEMP TABLE part (LIKE banking_data)")
    with db.cursor() as cur, cur.copy(f"COPY part ({COLUMNS}) FROM STDIN (FORMAT binary)") as copy:
        copy.write(copy_format.encode_rows(batch, scores, rule_set.version, rows=rows))
    got = [r[0] for r in db.execute('SELECT uniq_id FROM part ORDER BY "timestamp", uniq_id').fetchall()]
    assert [t.uniq_id for t in transactions_of(batch)[rows.start : rows.stop]] == got
    with pytest.raises(copy_format.EncodeError, match="not a range"):
        copy_format.encode_rows(batch, scores, rule_set.version, rows=range(0, len(batch) + 1))


def one_column(conn: psycopg.Connection, column_type: str, fields: list[bytes]) -> list:
    """COPY ``fields`` (each a length-prefixed binary value) as the rows of a one-column table."""
    conn.execute(f"CREATE TEMP TABLE one (v {column_type})")
    payload = b"".join(struct.pack(">h", 1) + f for f in fields)
    with conn.cursor() as cur, cur.copy("COPY one FROM STDIN (FORMAT binary)") as copy:
        copy.write(copy_format.SIGNATURE + payload + copy_format.TRAILER)
    values = [r[0] for r in conn.execute("SELECT v FROM one").fetchall()]
    conn.execute("DROP TABLE one")
    return values


@pytest.mark.parametrize("column_type", ["numeric(12, 2)", "numeric(14, 2)"])
def test_amounts_keep_every_cent(db: psycopg.Connection, column_type: str) -> None:
    cents = [1, 9, 10, 99, 100, 101, 10_000, 10_001, 1_000_000, 99_999_999, 100_000_000, 123_456_789_012]
    digits = copy_format._numeric(np.array(cents, np.int64)).astype(">i2")
    fields = [struct.pack(">i", 16) + row.tobytes() for row in digits]
    assert one_column(db, column_type, fields) == [Decimal(c).scaleb(-2) for c in cents]


def test_amounts_too_large_for_the_column_are_refused_by_the_server(db: psycopg.Connection) -> None:
    digits = copy_format._numeric(np.array([10**12], np.int64)).astype(">i2")  # 10^10 units
    with pytest.raises(psycopg.errors.NumericValueOutOfRange):
        one_column(db, "numeric(12, 2)", [struct.pack(">i", 16) + digits[0].tobytes()])


@pytest.mark.parametrize("cents", [0, -5, 10**14])
def test_amounts_out_of_range_are_refused_before_the_copy(cents: int) -> None:
    with pytest.raises(copy_format.EncodeError, match="out of range"):
        copy_format._numeric(np.array([100, cents], np.int64))


def test_an_encode_error_fails_the_task_without_retries() -> None:
    """Retrying cannot make an amount fit its column: the task fails at once."""
    from airflow.sdk.exceptions import AirflowFailException

    from banking import tasks

    with pytest.raises(
        AirflowFailException, match="^EncodeError: an amount of 0 or 100 cents is out of range"
    ):
        with tasks.fail_fast():
            copy_format._numeric(np.array([100, 0], np.int64))


def test_texts_need_no_escaping(db: psycopg.Connection) -> None:
    texts = ["tab\there", "new\nline", "back\\slash", "\\N", "Zoë Ødegård 東京", ""]
    assert one_column(db, "text", [copy_format._text(t) for t in texts]) == texts


def test_card_fields_are_the_cards_own_including_long_and_non_ascii_names() -> None:
    """The card columns packed with NumPy equal the card's own values field by field, for names
    that need UTF-8 and for holder names that ``full_name`` cuts at 100 characters."""
    population = population_for(SMALL)
    names = population.names.astype(object)
    names[population.given_name[0]] = "Zoë Ødegård 東京"
    names[population.family_name[1]] = "x" * 120
    population = dataclasses.replace(population, names=names.astype(str))
    listed = int(population.first_card[population.listed_account[0]])  # a blacklisted account's card
    cards = np.array([0, 1, 2, population.first_card[1], listed, population.n_cards - 1])
    fragments = copy_format.card_fragments(population, cards)
    for card, fragment in zip(cards.tolist(), fragments.tolist(), strict=True):
        c = population.card(card)
        a = population.account(int(population.card_account[card]))
        expected = (
            copy_format._text(a.holder_name)
            + copy_format._text(a.currency)
            + copy_format._text(a.home_country)
            + copy_format._field(a.account_id.bytes)
            + copy_format._field(b"\x01" if a.blacklisted else b"\x00")
            + copy_format._field(c.card_ref.bytes)
            + copy_format._text(c.masked_pan)
            + copy_format._text(c.card_type)
        )
        assert fragment == expected, card
    assert len(population.account(1).holder_name) == 100
