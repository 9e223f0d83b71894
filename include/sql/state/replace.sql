-- Replace a load's time range in the tiles, once banking_state_old holds the replaced rows
-- (state/collect_old) and banking_state_new the new ones, per (account, hour, country): each hour
-- tile and each day tile of a sealed day gain (new rows - old rows), and a tile left with no row
-- goes (the block: state/replace_block). Exact for reruns, overlaps and loads of the past (a load
-- that replaced nothing runs state/add_new.sql instead, the same without the change table). A tile
-- depends on its own hour or day only, and loads of the same hours and days take turns on their
-- locks (load/lock_hours, lock_days), so loads of other days write the state at the same time.
-- Keys in order: concurrent upserts take their row locks in one order.
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
-- Bounded to the hours replaced, which prunes the other days' partitions as the statement starts,
-- and every one of them when nothing was replaced (a live load): a join with the temp table alone
-- could scan every day's tiles for zeros.
DELETE FROM banking_account_hours AS h
USING banking_state_old AS o
WHERE h.account_id = o.account_id AND h.hour = o.hour AND h.country = o.country AND h.txns = 0
  AND h.hour >= (SELECT min(hour) FROM banking_state_old) AND h.hour <= (SELECT max(hour) FROM banking_state_old);
-- Only when something was replaced (a one-time test): the planner may scan every day tile for zeros
-- (a live load's banking_state_old is empty, and counted by no statistics).
DELETE FROM banking_account_days AS d
USING banking_state_old AS o
WHERE d.account_id = o.account_id AND d.day = date_trunc('day', o.hour, 'UTC') AND d.country = o.country
  AND d.txns = 0 AND EXISTS (SELECT FROM banking_state_old);
DROP TABLE banking_state_change;
DROP TABLE banking_state_new;
DROP TABLE banking_state_old;
