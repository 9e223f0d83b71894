"""The rules' view of history: the columnar reader returns exactly what the object reader does."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import psycopg

from banking import pipeline
from banking.model import Window
from banking.rules.history import read_history_columns
from banking.stream.batch import COUNTRY_CODES
from tests.builders import load_history
from tests.helpers import DAY, SMALL

NOON = DAY.replace(hour=12)


def test_columns_match_objects(db: psycopg.Connection, rule_set) -> None:
    for i in range(5):
        pipeline.run_window(
            db, SMALL, rule_set, Window(NOON + timedelta(minutes=i), NOON + timedelta(minutes=i + 1))
        )
    accounts = [r[0] for r in db.execute("SELECT DISTINCT account_id FROM banking_data")]
    since, until = NOON + timedelta(minutes=1), NOON + timedelta(minutes=4)
    objects = load_history(db, accounts, since, until)
    past = sorted(
        (p for rows in objects.by_account.values() for p in rows), key=lambda p: (p.timestamp, p.account_id)
    )
    codes = COUNTRY_CODES[:3]  # the others come back as len(codes)
    columns = read_history_columns(db, accounts, since, until, codes)
    assert len(past) == len(columns.t_us) > 0
    assert (np.diff(columns.t_us) >= 0).all()
    got = sorted(
        zip(
            columns.t_us.tolist(),
            [a.ljust(16, b"\0") for a in columns.account.tolist()],  # S16 drops trailing NULs
            [c.ljust(16, b"\0") for c in columns.card.tolist()],
            columns.amount_cents.tolist(),
            columns.country.tolist(),
            strict=True,
        )
    )
    epoch = NOON.replace(year=1970, month=1, day=1, hour=0)
    want = sorted(
        (
            (p.timestamp - epoch) // timedelta(microseconds=1),
            p.account_id.bytes,
            p.card_ref.bytes,
            p.amount_cents,
            codes.index(p.country) if p.country in codes else len(codes),
        )
        for p in past
    )
    assert got == want


def test_nothing_to_read_gives_empty_columns(db: psycopg.Connection) -> None:
    empty = read_history_columns(db, [], NOON, NOON + timedelta(minutes=1), COUNTRY_CODES)
    assert len(empty.t_us) == len(empty.account) == 0
    none_loaded = read_history_columns(
        db, [first_account()], NOON, NOON + timedelta(minutes=1), COUNTRY_CODES
    )
    assert len(none_loaded.t_us) == 0


def first_account():
    from banking.stream.population import population_for

    return population_for(SMALL).account_uuid(0)
