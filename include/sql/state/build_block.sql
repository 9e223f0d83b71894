-- Build the block of [%(since)s, %(until)s) (whole minutes) under the lock of every hour
-- (store/account_tiles.build_block): its whole hours [%(hours_since)s, %(hours_until)s) from the
-- tiles (the whole sealed days among them from the day tiles, the other hours from the hour tiles;
-- both exact: a sealed day's tile is the sum of its hours'), the minutes before and after them from
-- banking_data's rows, from %(counted_from)s (the state's horizon) on, as the tiles count them.
-- Replaces any block there was.
SET LOCAL jit = off;
DELETE FROM banking_account_block;
INSERT INTO banking_account_block (account_id, country, txns, cents)
SELECT account_id, country, sum(txns), sum(cents)
FROM (
    SELECT d.account_id, d.country, d.txns, d.cents
    FROM banking_account_days AS d
    JOIN banking_sealed_days AS s ON s.day = d.day
    WHERE d.day >= %(hours_since)s AND d.day + interval '1 day' <= %(hours_until)s
    UNION ALL
    SELECT h.account_id, h.country, h.txns, h.cents
    FROM banking_account_hours AS h
    WHERE h.hour >= %(hours_since)s AND h.hour < %(hours_until)s
      AND NOT EXISTS (
          SELECT FROM banking_sealed_days AS s
          WHERE s.day = date_trunc('day', h.hour, 'UTC')
            AND s.day >= %(hours_since)s AND s.day + interval '1 day' <= %(hours_until)s
      )
    UNION ALL
    SELECT account_id, country, 1, (amount * 100)::bigint FROM banking_data
    WHERE "timestamp" >= greatest(%(since)s, %(counted_from)s) AND "timestamp" < %(hours_since)s
    UNION ALL
    SELECT account_id, country, 1, (amount * 100)::bigint FROM banking_data
    WHERE "timestamp" >= greatest(%(hours_until)s, %(counted_from)s) AND "timestamp" < %(until)s
) AS tiles
GROUP BY account_id, country
HAVING sum(txns) <> 0
ORDER BY account_id, country;
INSERT INTO banking_state_block (since, until, near) VALUES (%(since)s, %(until)s, %(near)s)
ON CONFLICT (only_row) DO UPDATE SET since = excluded.since, until = excluded.until, near = excluded.near;
