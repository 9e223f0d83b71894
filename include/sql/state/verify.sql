-- How many tiles differ from a recomputation from banking_data (0 when the state is exact): every
-- (account, hour, country) of the rows at or after the horizon, and every (account, day, country)
-- of the sealed days among them, against the tiles (so a day tile of a day not sealed counts too),
-- every (account, country) of the rows in the block's minutes against the block's rows not at zero,
-- and any tile before the horizon.
WITH horizon AS (SELECT horizon FROM banking_state_horizon),
hours AS (
    SELECT account_id, date_trunc('hour', "timestamp", 'UTC') AS hour, country,
           count(*) AS txns, sum((amount * 100)::bigint) AS cents
    FROM banking_data
    WHERE "timestamp" >= (SELECT horizon FROM horizon)
    GROUP BY 1, 2, 3
),
days AS (
    SELECT account_id, date_trunc('day', hour, 'UTC') AS day, country, sum(txns) AS txns, sum(cents) AS cents
    FROM hours
    WHERE date_trunc('day', hour, 'UTC') IN (SELECT day FROM banking_sealed_days)
    GROUP BY 1, 2, 3
),
block AS (
    SELECT account_id, country, count(*) AS txns, sum((amount * 100)::bigint) AS cents
    FROM banking_data, banking_state_block AS s
    WHERE "timestamp" >= greatest(s.since, (SELECT horizon FROM horizon)) AND "timestamp" < s.until
    GROUP BY 1, 2
)
SELECT (SELECT count(*) FROM hours r FULL JOIN banking_account_hours h USING (account_id, hour, country)
        WHERE r.txns IS DISTINCT FROM h.txns OR r.cents IS DISTINCT FROM h.cents)
     + (SELECT count(*) FROM days r FULL JOIN banking_account_days d USING (account_id, day, country)
        WHERE r.txns IS DISTINCT FROM d.txns OR r.cents IS DISTINCT FROM d.cents)
     + (SELECT count(*) FROM block r
        FULL JOIN (SELECT * FROM banking_account_block WHERE txns <> 0 OR cents <> 0) b USING (account_id, country)
        WHERE r.txns IS DISTINCT FROM b.txns OR r.cents IS DISTINCT FROM b.cents)
     + (SELECT count(*) FROM banking_account_hours WHERE hour < (SELECT horizon FROM horizon))
     + (SELECT count(*) FROM banking_account_days WHERE day < (SELECT horizon FROM horizon));
