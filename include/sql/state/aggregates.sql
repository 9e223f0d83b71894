-- The aggregate events of the given accounts for each look-back k: their rows in the whole hours
-- [lo_k, hi_k), from the tiles: the whole days [mid_lo_k, mid_hi_k) from banking_account_days, the
-- hours before and after them from banking_account_hours (an index range scan of each per account,
-- index-only where the visibility map allows: the counts are in the index), summed per (account, k,
-- country) into one event at lo_k, packed like history/account_history_columns.sql into fixed-width
-- big-endian records: lo_k as µs since the epoch (int8, the event's timestamp), account_id (16
-- bytes), the row count (int8), their amount in cents (int8), and the country's 0-based position in
-- %(countries)s (int4; cardinality(countries) when not in it), in no order (the reader sorts).
-- Countries without rows in the range give no record. LATERAL with OFFSET 0: index range scans per
-- account, not joins over every tile.
WITH tiles AS (
    SELECT a.account_id, b.lo, t.country, t.txns, t.cents
    FROM unnest(%(account_ids)s::uuid[]) AS a(account_id)
    CROSS JOIN unnest(%(lo)s::timestamptz[], %(hi)s::timestamptz[],
                      %(mid_lo)s::timestamptz[], %(mid_hi)s::timestamptz[]) AS b(lo, hi, mid_lo, mid_hi)
    CROSS JOIN LATERAL (
        SELECT h.country, h.txns, h.cents FROM banking_account_hours AS h
        WHERE h.account_id = a.account_id AND h.hour >= b.lo AND h.hour < b.mid_lo
        OFFSET 0
    ) AS t
    UNION ALL
    SELECT a.account_id, b.lo, t.country, t.txns, t.cents
    FROM unnest(%(account_ids)s::uuid[]) AS a(account_id)
    CROSS JOIN unnest(%(lo)s::timestamptz[], %(mid_lo)s::timestamptz[], %(mid_hi)s::timestamptz[])
        AS b(lo, mid_lo, mid_hi)
    CROSS JOIN LATERAL (
        SELECT d.country, d.txns, d.cents FROM banking_account_days AS d
        WHERE d.account_id = a.account_id AND d.day >= b.mid_lo AND d.day < b.mid_hi
        OFFSET 0
    ) AS t
    UNION ALL
    SELECT a.account_id, b.lo, t.country, t.txns, t.cents
    FROM unnest(%(account_ids)s::uuid[]) AS a(account_id)
    CROSS JOIN unnest(%(lo)s::timestamptz[], %(hi)s::timestamptz[], %(mid_hi)s::timestamptz[])
        AS b(lo, hi, mid_hi)
    CROSS JOIN LATERAL (
        SELECT h.country, h.txns, h.cents FROM banking_account_hours AS h
        WHERE h.account_id = a.account_id AND h.hour >= b.mid_hi AND h.hour < b.hi
        OFFSET 0
    ) AS t
)
SELECT string_agg(
           int8send((extract(epoch FROM s.lo) * 1000000)::bigint)
           || uuid_send(s.account_id)
           || int8send(s.txns)
           || int8send(s.cents)
           || int4send(coalesce(array_position(%(countries)s::text[], s.country::text) - 1,
                                cardinality(%(countries)s::text[]))::integer),
           ''::bytea)
FROM (
    SELECT account_id, lo, country, sum(txns)::bigint AS txns, sum(cents)::bigint AS cents
    FROM tiles
    GROUP BY account_id, lo, country
) AS s
WHERE s.txns <> 0;
