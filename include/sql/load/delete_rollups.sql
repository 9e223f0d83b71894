-- The per-minute rollups of the load's minutes, replaced in the load transaction by the rows that
-- loader.rollup_rows computes from the batch (load/copy_minute_stats, load/copy_minute_rule_hits).
DELETE FROM banking_minute_stats WHERE minute >= %(start)s AND minute < %(end)s;
DELETE FROM banking_minute_rule_hits WHERE minute >= %(start)s AND minute < %(end)s;
