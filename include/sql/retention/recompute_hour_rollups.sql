-- The hourly rollups of the UTC hours [first, end), recomputed from every minute and row left in
-- those hours (retention, before its cutoff, under load/lock_all_hours; a load changes its hours by
-- what it changed instead, load/apply_rollup_changes): an hour holds exactly the sum of its minutes.
DELETE FROM banking_hour_stats WHERE hour >= %(first)s AND hour < %(end)s;
INSERT INTO banking_hour_stats (hour, trans_type, decision, injected_fraud, txns, amount)
SELECT date_trunc('hour', minute, 'UTC'), trans_type, decision, injected_fraud, sum(txns), sum(amount)
FROM banking_minute_stats
WHERE minute >= %(first)s AND minute < %(end)s
GROUP BY 1, 2, 3, 4;
DELETE FROM banking_hour_rule_hits WHERE hour >= %(first)s AND hour < %(end)s;
INSERT INTO banking_hour_rule_hits (hour, rule_id, decision, injected_fraud, hits, amount)
SELECT date_trunc('hour', minute, 'UTC'), rule_id, decision, injected_fraud, sum(hits), sum(amount)
FROM banking_minute_rule_hits
WHERE minute >= %(first)s AND minute < %(end)s
GROUP BY 1, 2, 3, 4;
-- Through the partial index on account_blacklisted; the timestamp bounds prune to the hours' days.
-- The rows replaced and their replacements are kept, per day, in banking_blacklisted_change for
-- retention/recompute_day_rollups, which applies the difference to the days (their rows are not
-- read again).
CREATE TEMP TABLE banking_blacklisted_change (
    day                 timestamptz NOT NULL,
    account_holder_name varchar(100) NOT NULL,
    txns                bigint NOT NULL
) ON COMMIT DROP;
WITH old AS (
    DELETE FROM banking_hour_blacklisted WHERE hour >= %(first)s AND hour < %(end)s
    RETURNING hour, account_holder_name, txns
)
INSERT INTO banking_blacklisted_change (day, account_holder_name, txns)
SELECT date_trunc('day', hour, 'UTC'), account_holder_name, -txns FROM old;
WITH new AS (
    INSERT INTO banking_hour_blacklisted (hour, account_holder_name, txns)
    SELECT date_trunc('hour', "timestamp", 'UTC'), account_holder_name, count(*)
    FROM banking_data
    WHERE account_blacklisted AND "timestamp" >= %(first)s AND "timestamp" < %(end)s
    GROUP BY 1, 2
    RETURNING hour, account_holder_name, txns
)
INSERT INTO banking_blacklisted_change (day, account_holder_name, txns)
SELECT date_trunc('day', hour, 'UTC'), account_holder_name, txns FROM new;
