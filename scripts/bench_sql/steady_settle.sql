-- make bench (steady, --analyze): what autovacuum would have done after a bulk history load, before
-- the windows are measured (fresh statistics and visibility maps for the tables a window reads).
VACUUM (ANALYZE) banking_data, banking_account_hours, banking_account_days;
