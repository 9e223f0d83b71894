-- The daily rollups of the UTC days [first, end) that a window touches, recomputed in its load
-- transaction right after the hours (load/refresh_hour_rollups), under load/lock_days, from every
-- hourly row of those days: a day holds exactly the sum of its hours, as an hour does of its minutes.
DELETE FROM banking_day_stats WHERE day >= %(first)s AND day < %(end)s;
INSERT INTO banking_day_stats (day, trans_type, decision, injected_fraud, txns, amount)
SELECT date_trunc('day', hour, 'UTC'), trans_type, decision, injected_fraud, sum(txns), sum(amount)
FROM banking_hour_stats
WHERE hour >= %(first)s AND hour < %(end)s
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_day_rule_hits WHERE day >= %(first)s AND day < %(end)s;
INSERT INTO banking_day_rule_hits (day, rule_id, decision, injected_fraud, hits, amount)
SELECT date_trunc('day', hour, 'UTC'), rule_id, decision, injected_fraud, sum(hits), sum(amount)
FROM banking_hour_rule_hits
WHERE hour >= %(first)s AND hour < %(end)s
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_day_blacklisted WHERE day >= %(first)s AND day < %(end)s;
INSERT INTO banking_day_blacklisted (day, account_holder_name, txns)
SELECT date_trunc('day', hour, 'UTC'), account_holder_name, sum(txns)
FROM banking_hour_blacklisted
WHERE hour >= %(first)s AND hour < %(end)s
GROUP BY 1, 2;
