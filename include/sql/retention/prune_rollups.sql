-- Rollups of windows that ended before the cutoff (their rows are gone with their partitions).
DELETE FROM banking_minute_stats WHERE window_end <= %(cutoff)s;
DELETE FROM banking_minute_rule_hits WHERE window_end <= %(cutoff)s;
-- The hourly rollups before the cutoff, recomputed from what is left there: usually nothing, but a
-- window that ends after the cutoff keeps its minutes before it, and a partition of the current day
-- is never dropped. Under every hour's lock (load/lock_all_hours), taken after the partitions were
-- dropped, as loads take theirs after writing their rows: the same order, no deadlock.
SELECT pg_advisory_xact_lock(hashtext('banking_hour_rollups'), -1);
DELETE FROM banking_hour_stats WHERE hour < %(cutoff)s;
INSERT INTO banking_hour_stats (hour, trans_type, decision, injected_fraud, txns, amount)
SELECT date_trunc('hour', minute, 'UTC'), trans_type, decision, injected_fraud, sum(txns), sum(amount)
FROM banking_minute_stats
WHERE minute < %(cutoff)s
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_hour_rule_hits WHERE hour < %(cutoff)s;
INSERT INTO banking_hour_rule_hits (hour, rule_id, decision, injected_fraud, hits, amount)
SELECT date_trunc('hour', minute, 'UTC'), rule_id, decision, injected_fraud, sum(hits), sum(amount)
FROM banking_minute_rule_hits
WHERE minute < %(cutoff)s
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_hour_blacklisted WHERE hour < %(cutoff)s;
INSERT INTO banking_hour_blacklisted (hour, account_holder_name, txns)
SELECT date_trunc('hour', "timestamp", 'UTC'), account_holder_name, count(*)
FROM banking_data
WHERE account_blacklisted AND "timestamp" < %(cutoff)s
GROUP BY 1, 2;
-- The daily rollups before the cutoff, recomputed from the hours just recomputed, under the same
-- lock (it stands for every day's, see load/lock_days). The cutoff is a UTC midnight (apply_retention
-- passes a date), so no day straddles it: the days before it are made of the hours before it.
DELETE FROM banking_day_stats WHERE day < %(cutoff)s;
INSERT INTO banking_day_stats (day, trans_type, decision, injected_fraud, txns, amount)
SELECT date_trunc('day', hour, 'UTC'), trans_type, decision, injected_fraud, sum(txns), sum(amount)
FROM banking_hour_stats
WHERE hour < %(cutoff)s
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_day_rule_hits WHERE day < %(cutoff)s;
INSERT INTO banking_day_rule_hits (day, rule_id, decision, injected_fraud, hits, amount)
SELECT date_trunc('day', hour, 'UTC'), rule_id, decision, injected_fraud, sum(hits), sum(amount)
FROM banking_hour_rule_hits
WHERE hour < %(cutoff)s
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_day_blacklisted WHERE day < %(cutoff)s;
INSERT INTO banking_day_blacklisted (day, account_holder_name, txns)
SELECT date_trunc('day', hour, 'UTC'), account_holder_name, sum(txns)
FROM banking_hour_blacklisted
WHERE hour < %(cutoff)s
GROUP BY 1, 2;
