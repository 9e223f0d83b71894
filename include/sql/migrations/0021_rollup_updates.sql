-- A load changes the hourly and daily rollups it touches by its difference
-- (load/apply_rollup_changes) instead of recomputing them: the pipeline updates those rows in place.
GRANT UPDATE ON banking_hour_stats, banking_hour_rule_hits, banking_hour_blacklisted,
    banking_day_stats, banking_day_rule_hits, banking_day_blacklisted TO banking_writer;
