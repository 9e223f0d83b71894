-- The block (0017) moves a minute at a time, with every live load, instead of an hour at a time:
-- its range [since, until) becomes the whole minutes that the one-minute window after the latest
-- load reads whole (store/account_tiles.Block). A block of the hourly kind goes: the retention
-- DAG's state task, or the next warm start, builds the new one; windows read the tiles meanwhile.
-- Each move updates a few rows per minute in place: the primary key no longer carries the counts
-- (INCLUDE), and pages keep room, so that the updates are HOT (no new index entry; the page is
-- pruned as it fills) instead of growing the index with every move.
DO $$
DECLARE
    name text;
BEGIN
    FOR name IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'banking_state_block'::regclass AND contype = 'c'
          AND pg_get_constraintdef(oid) LIKE '%date_trunc(''hour''%'
    LOOP
        EXECUTE format('ALTER TABLE banking_state_block DROP CONSTRAINT %I', name);
    END LOOP;
END
$$;
ALTER TABLE banking_state_block DROP CONSTRAINT IF EXISTS banking_state_block_whole_minutes;
ALTER TABLE banking_state_block ADD CONSTRAINT banking_state_block_whole_minutes
    CHECK (since = date_trunc('minute', since) AND until = date_trunc('minute', until));
DELETE FROM banking_account_block;
DELETE FROM banking_state_block;
ALTER TABLE banking_account_block DROP CONSTRAINT IF EXISTS banking_account_block_pkey;
ALTER TABLE banking_account_block ADD CONSTRAINT banking_account_block_pkey PRIMARY KEY (account_id, country);
ALTER TABLE banking_account_block SET (fillfactor = 70);
