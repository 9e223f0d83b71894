-- A load changes the blacklisted holders' days by what their hours changed (load/refresh_day_rollups)
-- instead of recomputing each day from its hours: the pipeline updates those rows in place.
GRANT UPDATE ON banking_day_blacklisted TO banking_writer;
