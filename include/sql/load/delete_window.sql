-- Every row in the load's time range, whichever run loaded it (the range is whole minutes): how many,
-- and the blacklisted accounts' among them per (UTC hour, holder) as arrays, which
-- load/apply_rollup_changes takes away from the hours and days (NULLs when none, as for a live minute).
WITH old AS (
    DELETE FROM banking_data WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
    RETURNING "timestamp", account_holder_name, account_blacklisted
), blacklisted AS (
    SELECT date_trunc('hour', "timestamp", 'UTC') AS hour, account_holder_name, count(*) AS txns
    FROM old
    WHERE account_blacklisted
    GROUP BY 1, 2
)
SELECT (SELECT count(*) FROM old) AS deleted,
       array_agg(hour) AS blacklisted_hour,
       array_agg(account_holder_name) AS blacklisted_holder,
       array_agg(txns) AS blacklisted_txns
FROM blacklisted;
