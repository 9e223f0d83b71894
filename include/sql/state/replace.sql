-- Replace a load's time range in the tiles, once banking_state_old holds the replaced rows
-- (state/collect_old) and banking_state_new the new ones, per (account, hour, country): each hour
-- tile, each day tile of a sealed day and the block (for its hours) gain (new rows - old rows), and
-- a tile left with no row goes. Exact for reruns, overlaps and loads of the past. A tile depends on
-- its own hour or day only, and loads of the same hours and days take turns on their locks
-- (load/lock_hours, lock_days), so loads of other days write the state at the same time. Keys in
-- order: concurrent upserts take their row locks in one order.
-- No JIT: the planner's estimates for the per-tile probes are large, the work is not.
SET LOCAL jit = off;
CREATE TEMP TABLE banking_state_change ON COMMIT DROP AS
SELECT account_id, hour, country, sum(txns)::bigint AS txns, sum(cents)::bigint AS cents
FROM (
    SELECT account_id, hour, country, txns, cents FROM banking_state_new
    UNION ALL
    SELECT account_id, hour, country, -txns, -cents FROM banking_state_old
) AS changes
GROUP BY account_id, hour, country
HAVING sum(txns) <> 0 OR sum(cents) <> 0;
INSERT INTO banking_account_hours AS h (account_id, hour, country, txns, cents)
SELECT account_id, hour, country, txns, cents FROM banking_state_change
ORDER BY account_id, hour, country
ON CONFLICT (account_id, hour, country)
DO UPDATE SET txns = h.txns + excluded.txns, cents = h.cents + excluded.cents;
-- The block (state/build_block), for the hours inside it: a load of those hours holds their locks,
-- which moving the block takes too, so the block's hours cannot change under this statement.
INSERT INTO banking_account_block AS b (account_id, country, txns, cents)
SELECT c.account_id, c.country, sum(c.txns), sum(c.cents)
FROM banking_state_change AS c
JOIN banking_state_block AS s ON c.hour >= s.since AND c.hour < s.until
GROUP BY 1, 2
HAVING sum(c.txns) <> 0 OR sum(c.cents) <> 0
ORDER BY 1, 2
ON CONFLICT (account_id, country)
DO UPDATE SET txns = b.txns + excluded.txns, cents = b.cents + excluded.cents;
-- (An array of the accounts, not a join: the planner, blind to the temp table's size, would scan the
-- whole block for every load.)
DELETE FROM banking_account_block AS b
WHERE b.account_id = ANY (ARRAY(SELECT DISTINCT o.account_id FROM banking_state_old AS o)) AND b.txns = 0;
-- Day tiles of sealed days only (state/seal_day builds a day's when it is sealed); the day's lock
-- (load/lock_days, held by the load since its rollups) orders this against sealing.
INSERT INTO banking_account_days AS d (account_id, day, country, txns, cents)
SELECT c.account_id, s.day, c.country, sum(c.txns), sum(c.cents)
FROM banking_state_change AS c
JOIN banking_sealed_days AS s ON s.day = date_trunc('day', c.hour, 'UTC')
GROUP BY 1, 2, 3
HAVING sum(txns) <> 0 OR sum(cents) <> 0
ORDER BY 1, 2, 3
ON CONFLICT (account_id, day, country)
DO UPDATE SET txns = d.txns + excluded.txns, cents = d.cents + excluded.cents;
DELETE FROM banking_account_hours AS h
USING banking_state_old AS o
WHERE h.account_id = o.account_id AND h.hour = o.hour AND h.country = o.country AND h.txns = 0;
DELETE FROM banking_account_days AS d
USING banking_state_old AS o
WHERE d.account_id = o.account_id AND d.day = date_trunc('day', o.hour, 'UTC') AND d.country = o.country
  AND d.txns = 0;
DROP TABLE banking_state_change;
DROP TABLE banking_state_new;
DROP TABLE banking_state_old;
