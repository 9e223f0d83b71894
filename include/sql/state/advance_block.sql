-- Move the block from [%(old_since)s, %(old_until)s) to [%(since)s, %(until)s) (whole minutes, the
-- same length, a shift shorter than it; a minute for each live load), under the lock of every hour
-- that the minutes entering or leaving it are in (store/account_tiles.advance_block): + the rows of
-- the minutes entering, - those of the minutes leaving, per (account, country), from
-- %(counted_from)s (the state's horizon) on, as the tiles count them. From banking_data's rows, by
-- time (its primary key: a few contiguous pages a minute). A block row left at zero stays (reads
-- skip it; state/prune_block removes them daily). Keys in order, as in state/replace.sql.
SET LOCAL jit = off;
-- A long shift's (account, country) pairs hashed in memory rather than spilled to disk.
SET LOCAL work_mem = '64MB';
INSERT INTO banking_account_block AS b (account_id, country, txns, cents)
SELECT account_id, country, sum(txns), sum(cents)
FROM (
    SELECT account_id, country, 1 AS txns, (amount * 100)::bigint AS cents FROM banking_data
    WHERE "timestamp" >= greatest(%(old_until)s, %(counted_from)s) AND "timestamp" < %(until)s
    UNION ALL
    SELECT account_id, country, -1, -(amount * 100)::bigint FROM banking_data
    WHERE "timestamp" >= greatest(%(old_since)s, %(counted_from)s) AND "timestamp" < %(since)s
) AS changes
GROUP BY account_id, country
HAVING sum(txns) <> 0 OR sum(cents) <> 0
ORDER BY account_id, country
ON CONFLICT (account_id, country)
DO UPDATE SET txns = b.txns + excluded.txns, cents = b.cents + excluded.cents;
UPDATE banking_state_block SET since = %(since)s, until = %(until)s;
