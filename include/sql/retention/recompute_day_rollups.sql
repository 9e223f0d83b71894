-- The daily rollups of the UTC days [first, end), right after their hours were recomputed
-- (retention/recompute_hour_rollups), under the same lock: a day holds exactly the sum of
-- its hours, as an hour does of its minutes (the stats and rule hits recomputed from the day's few
-- hourly rows, the blacklisted holders changed by what their hours changed).
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
-- The blacklisted holders' days change by what their hours changed (banking_blacklisted_change,
-- from retention/recompute_hour_rollups), so that the days are not read again:
-- each (day, holder) gains the difference, and one left with no transaction goes.
CREATE TEMP TABLE banking_blacklisted_delta ON COMMIT DROP AS
SELECT c.day, c.account_holder_name, c.txns, d.txns AS before
FROM (
    SELECT day, account_holder_name, sum(txns)::bigint AS txns
    FROM banking_blacklisted_change
    GROUP BY 1, 2
    HAVING sum(txns) <> 0
) AS c
LEFT JOIN banking_day_blacklisted AS d USING (day, account_holder_name);
DELETE FROM banking_day_blacklisted AS d
USING banking_blacklisted_delta AS c
WHERE d.day = c.day AND d.account_holder_name = c.account_holder_name AND c.before + c.txns = 0;
UPDATE banking_day_blacklisted AS d
SET txns = c.before + c.txns
FROM banking_blacklisted_delta AS c
WHERE d.day = c.day AND d.account_holder_name = c.account_holder_name AND c.before + c.txns <> 0;
INSERT INTO banking_day_blacklisted (day, account_holder_name, txns)
SELECT day, account_holder_name, txns
FROM banking_blacklisted_delta
WHERE before IS NULL
ORDER BY 1, 2;
DROP TABLE banking_blacklisted_delta;
DROP TABLE banking_blacklisted_change;
