-- Before a load deletes its rows, those in the block's minutes [%(since)s, %(until)s) (the part of
-- the load's range inside the block, store/account_tiles.collect_replaced) per (account, country):
-- state/replace_block takes them away from the block. A live load, after the block, has none.
CREATE TEMP TABLE banking_block_old ON COMMIT DROP AS
SELECT account_id, country, count(*)::bigint AS txns, sum((amount * 100)::bigint)::bigint AS cents
FROM banking_data
WHERE "timestamp" >= %(since)s AND "timestamp" < %(until)s
GROUP BY 1, 2;
