-- Move the block from [%(old_since)s, %(old_until)s) to [%(since)s, %(until)s) (whole hours, the same
-- length, a shift shorter than it), under the lock of every hour that enters or leaves it
-- (store/account_tiles.advance_block): + the hour tiles entering, - those leaving, per (account,
-- country); a block row left with no row goes. Keys in order, as in state/replace.sql.
SET LOCAL jit = off;
CREATE TEMP TABLE banking_block_change ON COMMIT DROP AS
SELECT account_id, country, sum(txns)::bigint AS txns, sum(cents)::bigint AS cents,
       bool_or(txns < 0) AS leaving
FROM (
    SELECT account_id, country, txns, cents FROM banking_account_hours
    WHERE hour >= %(old_until)s AND hour < %(until)s
    UNION ALL
    SELECT account_id, country, -txns, -cents FROM banking_account_hours
    WHERE hour >= %(old_since)s AND hour < %(since)s
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
