-- make bench: forget what an earlier bench run loaded on the days of [start, end), so that every
-- run loads into empty partitions, as the plain COPY it is compared with does (bench.py drops the
-- partitions that include/sql/load/ensure_partitions named banking_data_pYYYYMMDD).
DELETE FROM banking_batches WHERE window_start >= %(start)s AND window_end <= %(end)s;
DELETE FROM banking_minute_stats WHERE window_start >= %(start)s AND window_end <= %(end)s;
DELETE FROM banking_minute_rule_hits WHERE window_start >= %(start)s AND window_end <= %(end)s;
DELETE FROM banking_staging WHERE window_start >= %(start)s AND window_end <= %(end)s;
DELETE FROM banking_hour_stats WHERE hour >= %(start)s AND hour < %(end)s;
DELETE FROM banking_hour_rule_hits WHERE hour >= %(start)s AND hour < %(end)s;
DELETE FROM banking_hour_blacklisted WHERE hour >= %(start)s AND hour < %(end)s;
DELETE FROM banking_day_stats WHERE day >= %(start)s AND day < %(end)s;
DELETE FROM banking_day_rule_hits WHERE day >= %(start)s AND day < %(end)s;
DELETE FROM banking_day_blacklisted WHERE day >= %(start)s AND day < %(end)s;
