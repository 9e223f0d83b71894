-- The window's share of the per-minute rollups, replaced in the load transaction by the rows that
-- loader.rollup_rows computes from the batch (load/copy_minute_stats, load/copy_minute_rule_hits).
DELETE FROM banking_minute_stats WHERE window_start = %(start)s AND window_end = %(end)s;
DELETE FROM banking_minute_rule_hits WHERE window_start = %(start)s AND window_end = %(end)s;
