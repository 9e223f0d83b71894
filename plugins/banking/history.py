"""Account history for the rules: what was loaded before a window, read from ``banking_data``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

import psycopg

from banking.db import sql
from banking.model import History, PastTransaction


def load_history(
    conn: psycopg.Connection, account_ids: Iterable[UUID], since: datetime, until: datetime
) -> History:
    """Earlier transactions of ``account_ids`` with ``since <= timestamp < until``, oldest first."""
    history = History(since=since, until=until)
    ids = sorted(set(account_ids))
    if not ids or since >= until:
        return history
    by_account = history.by_account
    with conn.cursor() as cur:
        cur.execute(sql("history/account_history"), {"account_ids": ids, "since": since, "until": until})
        for account_id, ts, card_ref, amount_cents, country in cur:
            past = PastTransaction(ts, account_id, card_ref, amount_cents, country)
            events = by_account.get(account_id)
            if events is None:
                by_account[account_id] = [past]
            else:
                events.append(past)
    return history
