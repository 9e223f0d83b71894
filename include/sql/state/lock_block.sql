-- Before building or moving the block (store/account_tiles.py): one at a time, until commit. Taken
-- before any hour's lock; a load never takes it, so it closes no cycle of waits with theirs.
SELECT pg_advisory_xact_lock(hashtext('banking_state_block'));
