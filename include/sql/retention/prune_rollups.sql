-- Rollups of windows that ended before the cutoff (their rows are gone with their partitions).
DELETE FROM banking_minute_stats WHERE window_end <= %(cutoff)s;
DELETE FROM banking_minute_rule_hits WHERE window_end <= %(cutoff)s;
