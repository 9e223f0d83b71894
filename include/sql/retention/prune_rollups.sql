-- The per-minute rollups of windows that ended before the cutoff (their rows are gone with their
-- partitions). The hours and days before the cutoff are then recomputed from what is left there
-- (store/rollups.refresh_rollups_before): usually nothing, but a window that ends after the cutoff
-- keeps its minutes before it, and a partition of the current day is never dropped.
DELETE FROM banking_minute_stats WHERE window_end <= %(cutoff)s;
DELETE FROM banking_minute_rule_hits WHERE window_end <= %(cutoff)s;
