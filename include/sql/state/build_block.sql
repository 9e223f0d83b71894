-- Build the block of [%(since)s, %(until)s) (whole hours) from the tiles, under the lock of every
-- hour in it (store/account_tiles.build_block): its whole sealed days from the day tiles, its other
-- hours from the hour tiles (both exact: a sealed day's tile is the sum of its hours'). Replaces
-- any block there was.
DELETE FROM banking_account_block;
INSERT INTO banking_account_block (account_id, country, txns, cents)
SELECT account_id, country, sum(txns), sum(cents)
FROM (
    SELECT d.account_id, d.country, d.txns, d.cents
    FROM banking_account_days AS d
    JOIN banking_sealed_days AS s ON s.day = d.day
    WHERE d.day >= %(since)s AND d.day + interval '1 day' <= %(until)s
    UNION ALL
    SELECT h.account_id, h.country, h.txns, h.cents
    FROM banking_account_hours AS h
    WHERE h.hour >= %(since)s AND h.hour < %(until)s
      AND NOT EXISTS (
          SELECT FROM banking_sealed_days AS s
          WHERE s.day = date_trunc('day', h.hour, 'UTC')
            AND s.day >= %(since)s AND s.day + interval '1 day' <= %(until)s
      )
) AS tiles
GROUP BY account_id, country
HAVING sum(txns) <> 0
ORDER BY account_id, country;
INSERT INTO banking_state_block (since, until, near) VALUES (%(since)s, %(until)s, %(near)s)
ON CONFLICT (only_row) DO UPDATE SET since = excluded.since, until = excluded.until, near = excluded.near;
