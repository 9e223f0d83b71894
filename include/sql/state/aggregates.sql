-- One aggregate event per (account, country, look-back k) of the given accounts: the rows of the pair
-- in [lo_k, hi_k) as the difference of two running totals (the latest state row before each bound:
-- two index probes), packed like history/account_history_columns.sql into fixed-width big-endian
-- records: lo_k as µs since the epoch (int8, the event's timestamp), account_id (16 bytes), the row
-- count (int8), their amount in cents (int8), and the country's 0-based position in %(countries)s
-- (int4; cardinality(countries) when not in it). Pairs without rows in the range give no record.
-- The pairs of the accounts first (MATERIALIZED: else the planner probes every pair, then joins),
-- each account's by its own index lookup (LATERAL, OFFSET 0: not a hash join over every pair ever seen,
-- which grows with the history).
WITH pairs AS MATERIALIZED (
    SELECT p.account_id, p.country
    FROM unnest(%(account_ids)s::uuid[]) AS a(account_id)
    CROSS JOIN LATERAL (
        SELECT c.account_id, c.country FROM banking_account_countries AS c
        WHERE c.account_id = a.account_id
        OFFSET 0
    ) AS p
)
SELECT string_agg(
           int8send((extract(epoch FROM b.lo) * 1000000)::bigint)
           || uuid_send(p.account_id)
           || int8send(hi.txns - coalesce(lo.txns, 0))
           || int8send(hi.cents - coalesce(lo.cents, 0))
           || int4send(coalesce(array_position(%(countries)s::text[], p.country::text) - 1,
                                cardinality(%(countries)s::text[]))::integer),
           ''::bytea ORDER BY b.lo)
FROM pairs AS p
CROSS JOIN unnest(%(lo)s::timestamptz[], %(hi)s::timestamptz[]) AS b(lo, hi)
CROSS JOIN LATERAL (
    SELECT s.txns, s.cents FROM banking_account_totals AS s
    WHERE s.account_id = p.account_id AND s.country = p.country AND s.minute < b.hi
    ORDER BY s.minute DESC
    LIMIT 1
) AS hi
LEFT JOIN LATERAL (
    SELECT s.txns, s.cents FROM banking_account_totals AS s
    WHERE s.account_id = p.account_id AND s.country = p.country AND s.minute < b.lo
    ORDER BY s.minute DESC
    LIMIT 1
) AS lo ON true
WHERE hi.txns <> coalesce(lo.txns, 0);
