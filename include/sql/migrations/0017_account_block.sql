-- The live windows' look-back in one piece: per (account, country), the sum of the hour tiles
-- (0014) over one block of whole hours [since, until) (banking_state_block), the part of the
-- look-back that every one-minute window of the current hour reads whole. A live window then reads
-- one block row per (account, country) instead of a tile per hour and day of its week
-- (rules/history_totals). store/account_tiles.py builds the block and moves it forward an hour
-- at a time as the live loads reach a new hour; every load that changes an hour inside the block
-- changes the block by as much (state/replace.sql), so it stays equal to its tiles' sum.
CREATE TABLE IF NOT EXISTS banking_account_block (
    account_id uuid NOT NULL,
    country    char(2) NOT NULL,
    txns       bigint NOT NULL,
    cents      bigint NOT NULL,
    PRIMARY KEY (account_id, country) INCLUDE (txns, cents)
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01);

-- The block's hours (no row: no block), and where it stays relative to the loads: its end is
-- ``near`` before the hour of the latest load's end.
CREATE TABLE IF NOT EXISTS banking_state_block (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    since    timestamptz NOT NULL,
    until    timestamptz NOT NULL,
    near     interval NOT NULL,
    CHECK (since <= until),
    CHECK (since = date_trunc('hour', since, 'UTC') AND until = date_trunc('hour', until, 'UTC'))
);

GRANT SELECT ON banking_account_block, banking_state_block TO banking_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON banking_account_block, banking_state_block TO banking_writer;
