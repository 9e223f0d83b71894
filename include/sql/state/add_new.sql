-- A load that replaced none of the state's rows (state/collect_old found none: a live minute, the
-- first load of a range): each hour tile, and each day tile of a sealed day, gains the batch's rows
-- (banking_state_new, one row per (account, hour, country)). Nothing is taken away, so no tile is
-- left empty: no change table and no deletes, which state/replace.sql needs otherwise. Keys in order,
-- as there.
SET LOCAL jit = off;
INSERT INTO banking_account_hours AS h (account_id, hour, country, txns, cents)
SELECT account_id, hour, country, txns, cents FROM banking_state_new
ORDER BY account_id, hour, country
ON CONFLICT (account_id, hour, country)
DO UPDATE SET txns = h.txns + excluded.txns, cents = h.cents + excluded.cents;
INSERT INTO banking_account_days AS d (account_id, day, country, txns, cents)
SELECT n.account_id, s.day, n.country, sum(n.txns), sum(n.cents)
FROM banking_state_new AS n
JOIN banking_sealed_days AS s ON s.day = date_trunc('day', n.hour, 'UTC')
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
ON CONFLICT (account_id, day, country)
DO UPDATE SET txns = d.txns + excluded.txns, cents = d.cents + excluded.cents;
DROP TABLE banking_state_new;
DROP TABLE banking_state_old;
