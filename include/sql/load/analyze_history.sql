-- After a bulk load (the warm start): what autovacuum would do in the next minutes, before the first
-- live windows need it: fresh planner statistics for what they read (the block too, which the warm
-- start builds last), and the visibility maps of banking_data and the tiles (the history reads are
-- index-only on the pages those mark). A role that does not own a table gets a warning and the
-- table is skipped.
VACUUM (ANALYZE) banking_data, banking_account_hours, banking_account_days, banking_account_block;
ANALYZE banking_batches;
