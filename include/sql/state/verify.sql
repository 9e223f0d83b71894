-- How many running totals differ from a recomputation from banking_data (0 when the state is exact):
-- every pair's totals at the minutes it had rows at or after the horizon, less the pair's constant
-- (its latest total before the horizon, which retention keeps), against the cumulative count and sum
-- of its rows from the horizon on; the pairs seen in banking_data but not in banking_account_countries;
-- and 1 when a total lies after the state's latest minute (which loads would then not move).
WITH horizon AS (SELECT horizon FROM banking_state_horizon),
recomputed AS (
    SELECT account_id, country, minute,
           sum(txns) OVER w AS txns, sum(cents) OVER w AS cents
    FROM (
        SELECT account_id, country, date_trunc('minute', "timestamp", 'UTC') AS minute,
               count(*) AS txns, sum((amount * 100)::bigint) AS cents
        FROM banking_data
        WHERE "timestamp" >= (SELECT horizon FROM horizon)
        GROUP BY 1, 2, 3
    ) AS per_minute
    WINDOW w AS (PARTITION BY account_id, country ORDER BY minute)
),
kept AS (
    SELECT s.account_id, s.country, s.minute,
           s.txns - coalesce(k.txns, 0) AS txns, s.cents - coalesce(k.cents, 0) AS cents
    FROM banking_account_totals AS s
    LEFT JOIN LATERAL (
        SELECT b.txns, b.cents FROM banking_account_totals AS b
        WHERE b.account_id = s.account_id AND b.country = s.country
          AND b.minute < (SELECT horizon FROM horizon)
        ORDER BY b.minute DESC
        LIMIT 1
    ) AS k ON true
    WHERE s.minute >= (SELECT horizon FROM horizon)
)
SELECT (SELECT count(*) FROM recomputed r FULL JOIN kept s USING (account_id, country, minute)
        WHERE r.txns IS DISTINCT FROM s.txns OR r.cents IS DISTINCT FROM s.cents)
     + (SELECT count(*) FROM (SELECT DISTINCT account_id, country FROM banking_data
                              WHERE "timestamp" >= (SELECT horizon FROM horizon)) AS d
        WHERE NOT EXISTS (SELECT 1 FROM banking_account_countries AS p
                          WHERE p.account_id = d.account_id AND p.country = d.country))
     + (SELECT count(*) FROM banking_account_totals
        WHERE minute > (SELECT latest FROM banking_state_horizon));
