-- A load of minutes inside the block [%(since)s, %(until)s) (the part of its range in it): the block
-- gains the load's rows there, now in banking_data, and loses those replaced (banking_block_old,
-- state/collect_old_block), per (account, country); a block row left at zero stays, as in
-- state/advance_block. Moving the block over these minutes takes the lock of their hours, which
-- the load holds, so the block's range cannot change under these statements. Keys in order, as in
-- state/replace.sql.
SET LOCAL jit = off;
INSERT INTO banking_account_block AS b (account_id, country, txns, cents)
SELECT account_id, country, sum(txns), sum(cents)
FROM (
    SELECT account_id, country, 1 AS txns, (amount * 100)::bigint AS cents FROM banking_data
    WHERE "timestamp" >= %(since)s AND "timestamp" < %(until)s
    UNION ALL
    SELECT account_id, country, -txns, -cents FROM banking_block_old
) AS changes
GROUP BY 1, 2
HAVING sum(txns) <> 0 OR sum(cents) <> 0
ORDER BY 1, 2
ON CONFLICT (account_id, country)
DO UPDATE SET txns = b.txns + excluded.txns, cents = b.cents + excluded.cents;
DROP TABLE banking_block_old;
