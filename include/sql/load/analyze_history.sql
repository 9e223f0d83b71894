-- After a bulk load (the warm start): fresh planner statistics for what the next windows read, so that
-- the first live minutes do not wait for autovacuum to notice millions of new rows, and the tiles'
-- visibility maps (their reads are index-only on the pages those mark). A role that does not own a
-- table gets a warning and the table is skipped.
ANALYZE banking_data;
VACUUM (ANALYZE) banking_account_hours, banking_account_days;
ANALYZE banking_batches;
