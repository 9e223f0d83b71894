"""The tiles (store.account_tiles, read by rules.history_totals) give every window exactly the scores
of the raw history, whatever order time was loaded in, whichever days are sealed and wherever the
block is, and stay equal to a recomputation from banking_data."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row

from banking import pipeline
from banking.backtest.stored import score_stored_window, stored_columns
from banking.db import sql
from banking.model import EPOCH, Window
from banking.rules import history, history_totals
from banking.rules.columns import HistoryColumns
from banking.rules.engine import Scores, score_columns
from banking.rules.rule_set import RuleSet
from banking.store import account_tiles, loader, partitions, retention
from banking.stream.batch import COUNTRY_CODES, Batch, IdIndex
from tests import helpers
from tests.db.lock_waits import second_waits
from tests.helpers import DAY, SMALL
from tests.unit.test_weighted_history import assert_same_scores, other_lookbacks

T = DAY + timedelta(days=10, hours=12)  # "now": ten days of room before it
FRAUDY = SMALL.with_overrides({"fraud_rate": 0.3, "rate_per_minute": 90})
HISTORY_RULES = ("amount_spike", "new_country")
_US = timedelta(microseconds=1)


def at(minutes: float, days: float = 0) -> Window:
    """The ten minutes from T + days + minutes."""
    start = T + timedelta(days=days, minutes=minutes)
    return Window(start, start + timedelta(minutes=10))


def span(a: float, b: float, days: float = 0) -> Window:
    return Window(T + timedelta(days=days, minutes=a), T + timedelta(days=days, minutes=b))


def _accounts(batch: Batch) -> list:
    return batch.tables.population.account_uuids(np.unique(batch.account))


def raw_history(conn: psycopg.Connection, batch: Batch, rule_set: RuleSet) -> HistoryColumns:
    """The raw read: every earlier row of the batch's accounts in the look-back (the reference)."""
    t, w = batch.tables, batch.window
    return history.read_history(
        conn, _accounts(batch), t.account_ids, t.card_ids, w.start - rule_set.lookback, w.start, COUNTRY_CODES
    )


def totals_history(conn: psycopg.Connection, batch: Batch, rule_set: RuleSet) -> HistoryColumns | None:
    """The read through the running totals, None when they cannot give the history exactly."""
    t = batch.tables
    past = history_totals.read_window_history(
        conn, _accounts(batch), t.account_ids, t.card_ids, batch.window, rule_set, COUNTRY_CODES
    )
    return past if past.weight is not None else None  # weights: read through the totals


def load(conn: psycopg.Connection, rule_set: RuleSet, *windows: Window, settings=SMALL) -> None:
    for window in windows:
        pipeline.run_window(conn, settings, rule_set, window)


def unmatched(conn: psycopg.Connection) -> int:
    """How many running totals differ from a recomputation from banking_data."""
    return conn.execute(sql("state/verify")).fetchone()[0]


def both_ways(conn: psycopg.Connection, window: Window, rule_set: RuleSet, settings=SMALL) -> Scores:
    """Score the window's batch with the raw history and with the state: the same scores, or fail."""
    batch, _ = pipeline.generate(settings, window)
    return compare(conn, batch, rule_set)


def compare(conn: psycopg.Connection, batch: Batch, rule_set: RuleSet) -> Scores:
    raw = score_columns(pipeline.columns_of(batch), raw_history(conn, batch, rule_set), rule_set)
    past = totals_history(conn, batch, rule_set)
    assert past is not None, "the state should serve this window"
    assert past.weight is not None
    assert_same_scores(raw, score_columns(pipeline.columns_of(batch), past, rule_set))
    return raw


def history_hits(scores: list[Scores]) -> dict[str, int]:
    return {r: sum(s.summary.hits_by_rule.get(r, 0) for s in scores) for r in HISTORY_RULES}


def week(
    conn: psycopg.Connection, rule_set: RuleSet, days: tuple[float, ...] = (7,), seal: bool = True
) -> None:
    """Scattered history: around each look-back boundary before T, a few hours ago, the last hour; the
    days before T's sealed and the block built for T's hour (as the retention DAG of T's day does)
    unless ``seal`` is false."""
    for d in days:
        load(conn, rule_set, span(-15, 15, -d))
    load(conn, rule_set, span(-600, -560), span(-180, -120), span(-60, -30), span(-30, 0))
    if seal:
        assert pipeline.maintain_state(conn, rule_set, T)
        assert account_tiles.block(conn) is not None


def test_windows_loaded_in_order_cross_the_week_boundary(db: psycopg.Connection, rule_set) -> None:
    week(db, rule_set)
    scored = []
    for i in range(4):  # each window's rows look back across T - 7 days + i * 10 minutes
        scored.append(both_ways(db, at(10 * i), rule_set))
        load(db, rule_set, at(10 * i))
    assert unmatched(db) == 0
    hits = history_hits(scored)
    assert all(hits.values()), hits
    window = at(40)
    batch, _ = pipeline.generate(SMALL, window)
    past = totals_history(db, batch, rule_set)
    assert past is not None and int(past.weight.max()) > 1  # aggregates do stand for several rows
    raw = raw_history(db, batch, rule_set)
    assert len(past) < len(raw) and int(past.weight.sum()) == len(raw)


def test_reruns_overlaps_and_loads_of_the_past(db: psycopg.Connection, rule_set) -> None:
    week(db, rule_set)
    load(db, rule_set, span(30, 40))
    load(db, rule_set, span(0, 10))  # the past after the present
    load(db, rule_set, span(-200, -190))  # and further back, inside the aggregated range
    assert unmatched(db) == 0
    scored = [both_ways(db, span(41, 42), rule_set), both_ways(db, span(121, 131), rule_set)]
    load(db, rule_set, span(30, 40), settings=FRAUDY)  # a rerun with other rows
    load(db, rule_set, span(35, 45))  # overlapping it
    load(db, rule_set, span(-170, -150), settings=FRAUDY)  # a backfill in the middle of the state
    load(db, rule_set, span(-165, -160))  # overlapping that
    assert unmatched(db) == 0
    scored += [both_ways(db, span(41, 42), rule_set), both_ways(db, span(121, 131), rule_set)]
    load(db, rule_set, span(-15, 15, -7), settings=FRAUDY)  # the week boundary itself, reloaded
    assert unmatched(db) == 0
    scored.append(both_ways(db, span(0, 10), rule_set))
    assert all(history_hits(scored).values())


def edited(batch: Batch, rows: dict[int, tuple[int, int, int]]) -> Batch:
    """The batch with row i moved to (t_us, account, card) for each entry, re-sorted: a hand-made batch."""
    t_us, account, card = batch.t_us.copy(), batch.account.copy(), batch.card.copy()
    for i, (t, a, c) in rows.items():
        t_us[i], account[i], card[i] = t, a, c
    by_id = np.argsort(np.ascontiguousarray(batch.uniq).view("S16").ravel(), kind="stable")
    order = by_id[np.argsort(t_us[by_id], kind="stable")]
    fields = {"t_us": t_us, "account": account, "card": card}
    names = (
        "uniq",
        "trans_type",
        "channel",
        "amount_cents",
        "amount_crr_cents",
        "merchant",
        "present",
        "scenario",
    )
    return replace(
        batch, **{k: v[order] for k, v in fields.items()}, **{k: getattr(batch, k)[order] for k in names}
    )


def load_batch(conn: psycopg.Connection, batch: Batch, rule_set: RuleSet) -> None:
    scores = pipeline.score(conn, batch, rule_set)
    loader.replace_window(conn, batch, scores, pipeline.summarize(batch, scores, SMALL))


def us(t) -> int:
    return (t - EPOCH) // _US


def test_rows_exactly_on_the_edges(db: psycopg.Connection, rule_set) -> None:
    """History rows at exactly t - 7 days and t - 1 h of a scored row t (in no window, and in the
    shorter one), and at the bounds ws - 7 days, we - 7 days and ws - 1 h of the read."""
    week(db, rule_set)
    window = Window(T, T + timedelta(minutes=5))
    batch, _ = pipeline.generate(SMALL, window)
    L, S = timedelta(days=7), timedelta(hours=1)
    for lag, bounds in ((L, (window.start - L, window.end - L)), (S, (window.start - S, window.end - S))):
        piece = Window(bounds[0], bounds[1] + timedelta(minutes=5))
        past, _ = pipeline.generate(SMALL, piece)
        moves = {}
        for j, i in enumerate(range(0, len(batch), 3)):  # every third row gets a twin at t - lag
            moves[j] = (int(batch.t_us[i]) - us(T) + us(T - lag), int(batch.account[i]), int(batch.card[i]))
        base = len(moves)
        for k, edge in enumerate((bounds[0], bounds[1])):
            for j in range(5):
                i = (7 * j + k) % len(batch)
                moves[base + 5 * k + j] = (us(edge), int(batch.account[i]), int(batch.card[i]))
        assert len(moves) < len(past)
        load_batch(db, edited(past, moves), rule_set)
    assert unmatched(db) == 0
    scores = compare(db, batch, rule_set)
    read = totals_history(db, batch, rule_set)
    for edge in (window.start - L, window.end - L, window.start - S):
        assert (read.t_us == us(edge)).sum() >= 5, edge
    assert scores.summary.hits_by_rule["velocity_account"] + sum(history_hits([scores]).values()) > 0


def test_an_account_with_no_state(db: psycopg.Connection, rule_set) -> None:
    load(db, rule_set, span(-15, 15, -7), span(-30, 0))
    window = at(0)
    batch, _ = pipeline.generate(SMALL, window)
    known = {r[0] for r in db.execute("SELECT DISTINCT account_id FROM banking_account_hours")}
    accounts = set(batch.tables.population.account_uuids(np.unique(batch.account)))
    assert accounts - known, "some of the window's accounts should have no state"
    compare(db, batch, rule_set)


def test_a_rule_file_with_other_look_backs(db: psycopg.Connection, rule_set) -> None:
    three_ten = other_lookbacks(3, 10)
    assert history_totals.Spans.of(three_ten).long == (timedelta(days=3), timedelta(days=10))
    week(db, rule_set, days=(3, 7, 10))
    scored = []
    for i in range(3):
        scored.append(both_ways(db, at(10 * i), three_ten))
        both_ways(db, at(10 * i), rule_set)  # the live rules, from the same state
        load(db, three_ten, at(10 * i))
    assert all(history_hits(scored).values()), history_hits(scored)
    assert unmatched(db) == 0


def test_after_retention(db: psycopg.Connection, rule_set) -> None:
    week(db, rule_set, days=(7, 9.5))
    with pytest.raises(ValueError, match="shorter than the rules' look-back"):
        retention.apply_retention(db, T, 3, lookback=rule_set.lookback)
    before = db.execute("SELECT count(*) FROM banking_account_hours").fetchone()[0]
    days_before = tile_partition_days(db)
    result = retention.apply_retention(db, T, 8, lookback=rule_set.lookback)
    assert result.partitions  # the day of T - 9.5 days went, its hour tiles' partition with it
    assert tile_partition_days(db) == data_partition_days(db) < days_before
    after = db.execute("SELECT count(*) FROM banking_account_hours").fetchone()[0]
    assert 0 < after < before
    assert unmatched(db) == 0
    for i in range(3):
        both_ways(db, at(10 * i), rule_set)
        load(db, rule_set, at(10 * i))
    load(db, rule_set, span(-15, 15, -9.5))  # time before the horizon again: the state ignores it
    load(db, rule_set, span(-100, -90))
    assert unmatched(db) == 0
    both_ways(db, at(30), rule_set)
    window = at(0, days=-2.5)  # reads before the horizon: the raw history
    batch, _ = pipeline.generate(SMALL, window)
    assert totals_history(db, batch, rule_set) is None


def test_backtests_read_the_state_with_the_candidate_look_backs(db: psycopg.Connection, rule_set) -> None:
    """A backtest scores stored rows through the running totals with the candidate's own look-backs:
    the same scores as through the raw history."""
    three_ten = other_lookbacks(3, 10)
    week(db, rule_set, days=(3, 7, 10))
    window = at(0)
    load(db, rule_set, window)
    params = {"chunk_start": window.start, "chunk_end": window.end, "range_end": window.end}
    with db.cursor(row_factory=dict_row) as cur:
        records = cur.execute(sql("backtest/chunk_rows"), {**params, "rows_end": window.end}).fetchall()
    assert records
    accounts = IdIndex.of(sorted({r["account_id"] for r in records}))
    cards = IdIndex.of(sorted({r["card_ref"] for r in records}))
    ids = sorted({r["account_id"] for r in records})
    hits = 0
    for candidate in (three_ten, rule_set):
        assert history_totals.plan_for(db, window, candidate) is not None
        rows = stored_columns(records, accounts, cards)
        since = window.start - candidate.lookback
        raw = history.read_history(db, ids, accounts, cards, since, window.start, rows.countries)
        via_raw = score_columns(rows, raw, candidate)
        via_state = score_stored_window(db, window, records, candidate)
        assert_same_scores(via_raw, via_state)
        hits += sum(via_state.summary.hits_by_rule[r] for r in HISTORY_RULES)
    assert hits > 0


def test_the_migration_builds_the_state_of_what_is_loaded(db: psycopg.Connection, rule_set) -> None:
    from banking.store import schema

    week(db, rule_set)
    load(db, rule_set, span(-300, -290), settings=FRAUDY)
    db.execute("DELETE FROM banking_account_hours")
    db.execute("DELETE FROM banking_account_days")
    assert unmatched(db) > 0
    db.execute("DELETE FROM banking_sealed_days")
    db.execute("DELETE FROM banking_schema_migrations WHERE version IN (14, 15)")
    assert schema.apply_migrations(db) == ["0014_account_tiles", "0015_sealed_days"]
    assert db.execute("SELECT count(*) FROM banking_sealed_days").fetchone()[0] > 0
    assert db.execute("SELECT count(*) FROM banking_account_hours").fetchone()[0] > 0
    assert unmatched(db) == 0
    both_ways(db, at(0), rule_set)


def tile_partition_days(conn: psycopg.Connection) -> set[str]:
    """The days of banking_account_hours' partitions, checking that each tile is in its own day's."""
    misplaced = conn.execute(
        "SELECT count(*) FROM banking_account_hours "
        "WHERE tableoid::regclass::text <> 'banking_account_hours_p' || to_char(hour AT TIME ZONE 'UTC', 'YYYYMMDD')"
    ).fetchone()[0]
    assert misplaced == 0
    return partition_days(conn, "banking_account_hours")


def data_partition_days(conn: psycopg.Connection) -> set[str]:
    return partition_days(conn, "banking_data")


def partition_days(conn: psycopg.Connection, parent: str) -> set[str]:
    return {name[-8:] for name in helpers.partitions(conn, parent)}


def test_the_migration_moves_the_hour_tiles_into_day_partitions(
    empty_db: tuple[str, psycopg.Connection], rule_set, tmp_path
) -> None:
    """A database of the hour tiles' single table (migrations up to 0018) with a week loaded: 0019
    moves every tile into its day's partition, and creates one beside each day of data; the state
    stays exact, loads and retention go on with the partitions."""
    from banking.store import schema

    _, conn = empty_db
    for m in schema.migrations():
        if m.version <= 18:
            (tmp_path / f"{m.name}.sql").write_text(m.text)
    schema.apply_migrations(conn, tmp_path)
    schema.seed_population(conn, SMALL)
    week(conn, rule_set)
    partitions.ensure_days_ahead(conn, T, 2)
    tiles = "SELECT account_id, hour, country, txns, cents FROM banking_account_hours ORDER BY 1, 2, 3"
    before = conn.execute(tiles).fetchall()
    assert before and partition_days(conn, "banking_account_hours") == set()
    assert schema.apply_migrations(conn)[0] == "0019_hour_tiles_by_day"
    assert conn.execute(tiles).fetchall() == before
    assert tile_partition_days(conn) == data_partition_days(conn)
    assert unmatched(conn) == 0
    for i in range(2):
        both_ways(conn, at(10 * i), rule_set)
        load(conn, rule_set, at(10 * i))
    load(conn, rule_set, span(-15, 15, -9.5))  # a day with no partition yet: both are created
    assert tile_partition_days(conn) == data_partition_days(conn)
    assert unmatched(conn) == 0
    retention.apply_retention(conn, T, 8, lookback=rule_set.lookback)
    assert tile_partition_days(conn) == data_partition_days(conn)
    assert unmatched(conn) == 0


def test_loads_of_other_days_write_the_state_at_the_same_time(
    empty_db: tuple[str, psycopg.Connection], db: psycopg.Connection, pg, rule_set
) -> None:
    """A load of the past, not yet committed, and a load of the present: the second touches other
    hours' tiles only, so it commits without waiting for the first; both leave the state exact."""
    name, _ = empty_db
    week(db, rule_set)
    past, present = span(-200, -190, -1), span(0, 10)
    for window in (past, present):
        partitions.ensure_partitions(db, window)
    outcome: list[object] = []

    def load_the_present() -> None:
        try:
            with pg.connect(name) as conn:
                outcome.append(pipeline.run_window(conn, SMALL, rule_set, present).load.inserted)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            outcome.append(exc)

    with pg.connect(name) as held:
        held.autocommit = False
        pipeline.run_window(held, FRAUDY, rule_set, past)  # not committed: its locks are held
        thread = threading.Thread(target=load_the_present)
        thread.start()
        thread.join(60)
        finished_first = not thread.is_alive()
        held.commit()
    thread.join(60)
    assert finished_first, "the load of the present waited for the load of the past"
    assert len(outcome) == 1 and isinstance(outcome[0], int) and outcome[0] > 0, outcome
    assert unmatched(db) == 0


def day_tile_days(conn: psycopg.Connection) -> set:
    return {r[0] for r in conn.execute("SELECT DISTINCT day FROM banking_account_days")}


def test_sealing_days_changes_no_score(db: psycopg.Connection, rule_set) -> None:
    """Unsealed days are read from their hours, sealed ones from their day tiles: the same scores;
    loads of a sealed day keep its tiles; a day is sealed once; today is not sealed."""
    week(db, rule_set, seal=False)
    assert day_tile_days(db) == set() and unmatched(db) == 0
    window = at(0)
    both_ways(db, window, rule_set)
    sealed = account_tiles.seal_days(db, T + timedelta(hours=5))  # not T's own day: it has not ended
    midnight = T - timedelta(hours=12)
    assert sealed == [midnight - timedelta(days=7)] and day_tile_days(db) == set(sealed)
    assert unmatched(db) == 0
    both_ways(db, window, rule_set)
    assert account_tiles.seal_days(db, T) == []
    load(db, rule_set, span(-15, 15, -7), settings=FRAUDY)  # the sealed day reloaded
    load(db, rule_set, span(-400, -380, -7), settings=FRAUDY)  # and loaded where it had no rows
    assert unmatched(db) == 0
    scored = [both_ways(db, window, rule_set), both_ways(db, at(20), rule_set)]
    assert all(history_hits(scored).values()), history_hits(scored)
    assert account_tiles.seal_days(db, T + timedelta(days=1)) == [midnight]


def test_sealing_waits_for_a_load_of_the_day(
    empty_db: tuple[str, psycopg.Connection], db: psycopg.Connection, pg, rule_set
) -> None:
    """A day being loaded (not yet committed) is sealed after the load commits, with its rows."""
    name, _ = empty_db
    week(db, rule_set, seal=False)
    past = span(-15, 15, -7)  # a day with rows, reloaded
    waiting, outcome = second_waits(
        pg,
        name,
        db,
        lambda held: pipeline.run_window(held, FRAUDY, rule_set, past),
        lambda conn: len(account_tiles.seal_days(conn, T)),
        "banking_day_rollups",
    )
    assert waiting and all(is_day for is_day, _ in waiting), waiting
    assert outcome == [1], outcome
    assert unmatched(db) == 0
    both_ways(db, at(0), rule_set)


def minute(m: float, days: float = 0) -> Window:
    """The minute from T + days + m: a live window."""
    start = T + timedelta(days=days, minutes=m)
    return Window(start, start + timedelta(minutes=1))


def reads_the_block(conn: psycopg.Connection, window: Window, rule_set: RuleSet) -> bool:
    plan = history_totals.plan_for(conn, window, rule_set)
    return plan is not None and plan.block is not None


def test_the_block_moves_with_the_live_windows(db: psycopg.Connection, rule_set) -> None:
    """The window after the latest load reads its look-back's middle from the block; each load moves
    it forward to its end (by a minute, by a day, or rebuilt after a jump longer than it), never
    back; loads of its minutes, across either end, change it by as much: the raw history's scores."""
    week(db, rule_set)
    near = timedelta(hours=1)  # the live rules' short spans
    first = account_tiles.block(db)
    assert first == account_tiles.Block.at(T, rule_set.lookback, near)
    assert not reads_the_block(db, at(0), rule_set) and not reads_the_block(db, minute(1), rule_set)
    scored = []
    for i in range(12):  # T to T + 12 minutes: each load moves it a minute
        assert reads_the_block(db, minute(i), rule_set)
        scored.append(both_ways(db, minute(i), rule_set, settings=FRAUDY))
        load(db, rule_set, minute(i))
    assert account_tiles.block(db) == first.moved_to(T + timedelta(minutes=12)) != first
    zeros = "SELECT count(*) FROM banking_account_block WHERE txns = 0"
    assert db.execute(zeros).fetchone()[0] > 0, "accounts whose rows left it stay, at zero"
    assert unmatched(db) == 0
    pipeline.maintain_state(db, rule_set, T)  # the state task: kept where the loads are, pruned
    assert account_tiles.block(db) == first.moved_to(T + timedelta(minutes=12))
    assert db.execute(zeros).fetchone()[0] == 0 and unmatched(db) == 0
    moved = account_tiles.block(db)
    load(db, rule_set, span(-200, -190), settings=FRAUDY)  # minutes inside it, reloaded
    for seam in (moved.since, moved.until):  # across its first and its last minute
        load(db, rule_set, Window(seam - timedelta(minutes=3), seam + timedelta(minutes=3)), settings=FRAUDY)
    assert account_tiles.block(db) == moved and unmatched(db) == 0
    scored.append(both_ways(db, minute(12), rule_set, settings=FRAUDY))
    load(db, rule_set, at(0, days=1))  # a day later: moved by as much
    assert account_tiles.block(db) == first.moved_to(T + timedelta(days=1, minutes=10))
    assert unmatched(db) == 0
    assert reads_the_block(db, minute(10, days=1), rule_set)
    scored.append(both_ways(db, minute(10, days=1), rule_set, settings=FRAUDY))
    load(db, rule_set, at(0))  # the past: it stays
    assert account_tiles.block(db) == first.moved_to(T + timedelta(days=1, minutes=10))
    load(db, rule_set, at(0, days=9))  # further than its length: built again there
    assert account_tiles.block(db) == first.moved_to(T + timedelta(days=9, minutes=10))
    assert unmatched(db) == 0
    assert reads_the_block(db, minute(10, days=9), rule_set)
    scored.append(both_ways(db, minute(10, days=9), rule_set, settings=FRAUDY))
    both_ways(db, at(10, days=9), rule_set)  # a longer window reads the tiles
    assert all(history_hits(scored).values()), history_hits(scored)


def test_the_block_follows_the_rules_and_retention(db: psycopg.Connection, rule_set) -> None:
    """Other look-backs: the state task builds the block for them (the old one is not read by their
    windows meanwhile); retention drops a block reaching before its cutoff; the state task builds it
    again where the loads are."""
    week(db, rule_set, days=(3, 7, 10))
    three = other_lookbacks(3, 3)
    near = history_totals.Spans.of(three).short
    assert not reads_the_block(db, minute(0), three)
    both_ways(db, minute(0), three)
    pipeline.maintain_state(db, three, T)
    block = account_tiles.block(db)
    assert block == account_tiles.Block.at(T, timedelta(days=3), near)
    assert reads_the_block(db, minute(0), three) and unmatched(db) == 0
    assert not reads_the_block(db, minute(0), rule_set)
    scored = [both_ways(db, minute(0), three, FRAUDY), both_ways(db, minute(0), rule_set, FRAUDY)]
    assert all(history_hits(scored).values()), history_hits(scored)
    later = T + timedelta(days=2)  # no load since T: the block is still T's
    retention.apply_retention(db, later, 3, lookback=timedelta(days=3))  # a cutoff after its start
    assert account_tiles.block(db) is None and unmatched(db) == 0
    load(db, three, minute(0, days=2))
    both_ways(db, minute(1, days=2), three)
    pipeline.maintain_state(db, three, later)  # where the latest load ended, after the reference
    assert account_tiles.block(db) == block.moved_to(later + timedelta(minutes=1)) and unmatched(db) == 0
    assert reads_the_block(db, minute(1, days=2), three)
    both_ways(db, minute(1, days=2), three)


def test_moving_the_block_leaves_it_to_a_later_load_while_a_load_of_its_minutes_is_open(
    empty_db: tuple[str, psycopg.Connection], db: psycopg.Connection, pg, rule_set
) -> None:
    """A load of minutes that enter the block, not yet committed: moving the block (what every load
    does once it committed) does not wait for it but leaves the block where it is; the next move,
    once that load committed, counts its rows. Windows read the tiles meanwhile."""
    name, _ = empty_db
    week(db, rule_set)
    load(db, rule_set, at(0), at(10), at(20), at(30), at(40))  # the block ends at T - 10 minutes
    before = account_tiles.block(db)
    entering = span(-5, 0)  # minutes that the block takes once the loads reach T + 1 hour
    with pg.connect(name) as held:
        held.autocommit = False
        pipeline.run_window(held, FRAUDY, rule_set, entering)  # not committed: its hour's lock is held
        assert account_tiles.advance_block(db, T + timedelta(hours=1)) is None
        assert account_tiles.block(db) == before
        assert not reads_the_block(db, minute(60), rule_set)
        held.commit()
    assert account_tiles.block(db) == before and unmatched(db) == 0
    moved = account_tiles.advance_block(db, T + timedelta(hours=1))
    assert moved == account_tiles.Block.at(T + timedelta(hours=1), rule_set.lookback, timedelta(hours=1))
    assert account_tiles.block(db) == moved and moved.until == T
    assert unmatched(db) == 0
    load(db, rule_set, at(50))
    both_ways(db, minute(60), rule_set)
    assert reads_the_block(db, minute(60), rule_set)


def test_rows_on_the_seams_of_the_pieces(db: psycopg.Connection, rule_set) -> None:
    """Rows just before and at the minute where the far edge's raw rows meet the block, and where the
    block meets the near raw rows: the raw history's scores."""
    week(db, rule_set)
    window = minute(0)  # the window after the latest load
    batch, _ = pipeline.generate(FRAUDY, window)
    far, near = window.end - rule_set.lookback, T - timedelta(hours=1)
    for seam in (far, near):
        piece = Window(seam - timedelta(minutes=5), seam + timedelta(minutes=5))
        past, _ = pipeline.generate(SMALL, piece)
        moves = {}
        for j in range(12):  # the window's accounts, on either side of the seam
            i = (5 * j) % len(batch)
            moves[j] = (us(seam) - (j % 2), int(batch.account[i]), int(batch.card[i]))
        load_batch(db, edited(past, moves), rule_set)
    assert unmatched(db) == 0
    plan = history_totals.plan_for(db, window, rule_set)
    assert plan.raw == ((window.start - rule_set.lookback, far), (near, window.start))
    assert not plan.by_account(*plan.raw[0]) and plan.by_account(*plan.raw[1])
    pieces = history_totals.tile_pieces(plan.aggregates, set(), plan.block)
    assert pieces.block_at == far and pieces.hours == pieces.days == []
    compare(db, batch, rule_set)
