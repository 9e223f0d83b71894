-- After a bulk load (the warm start): fresh planner statistics for what the next windows read, so that
-- the first live minutes do not wait for autovacuum to notice millions of new rows. A role that does
-- not own a table gets a warning and the table is skipped.
ANALYZE banking_data;
ANALYZE banking_account_totals;
ANALYZE banking_account_countries;
ANALYZE banking_batches;
