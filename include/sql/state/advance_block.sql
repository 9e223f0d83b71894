-- Move the block from [%(old_since)s, %(old_until)s) to [%(since)s, %(until)s) (whole minutes, the
-- same length, a shift shorter than it; a minute for each live load), under the lock of every hour
-- that the minutes entering or leaving it are in (store/account_tiles.advance_block): + the rows of
-- the minutes entering, - those of the minutes leaving, per (account, country), from
-- %(counted_from)s (the state's horizon) on, as the tiles count them. From banking_data's rows, by
-- time (its primary key: a few contiguous pages a minute). A block row left with no row goes. Keys
-- in order, as in state/replace.sql.
SET LOCAL jit = off;
-- A long shift's (account, country) pairs hashed in memory rather than spilled to disk.
SET LOCAL work_mem = '64MB';
CREATE TEMP TABLE banking_block_change ON COMMIT DROP AS
SELECT account_id, country, sum(txns)::bigint AS txns, sum(cents)::bigint AS cents,
       bool_or(txns < 0) AS leaving
FROM (
    SELECT account_id, country, 1 AS txns, (amount * 100)::bigint AS cents FROM banking_data
    WHERE "timestamp" >= greatest(%(old_until)s, %(counted_from)s) AND "timestamp" < %(until)s
    UNION ALL
    SELECT account_id, country, -1, -(amount * 100)::bigint FROM banking_data
    WHERE "timestamp" >= greatest(%(old_since)s, %(counted_from)s) AND "timestamp" < %(since)s
) AS changes
GROUP BY account_id, country;
INSERT INTO banking_account_block AS b (account_id, country, txns, cents)
SELECT account_id, country, txns, cents FROM banking_block_change
WHERE txns <> 0 OR cents <> 0
ORDER BY account_id, country
ON CONFLICT (account_id, country)
DO UPDATE SET txns = b.txns + excluded.txns, cents = b.cents + excluded.cents;
DELETE FROM banking_account_block AS b
WHERE b.account_id = ANY (ARRAY(SELECT c.account_id FROM banking_block_change AS c WHERE c.leaving))
  AND b.txns = 0;
UPDATE banking_state_block SET since = %(since)s, until = %(until)s;
DROP TABLE banking_block_change;
