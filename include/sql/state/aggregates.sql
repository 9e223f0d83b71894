-- The aggregate events of the given accounts for each look-back k: their rows in the ranges
-- [lo_k, hi_k), from the tiles, given as pieces (at, from, to) of hour tiles and of day tiles, and
-- the block's event time %(block_at)s (history_totals.tile_pieces: a range that is the block's
-- minutes from banking_account_block unless %(block_at)s is null; in the others, of whole hours,
-- the whole sealed days from banking_account_days and the other hours from banking_account_hours).
-- An index range scan per account and piece, index-only where the visibility map allows (the
-- tiles' counts are in their index; the block's are in its rows, updated in place every minute),
-- summed per (account, k, country) into one event at lo_k (the pieces' at), packed like
-- history/account_history_columns.sql into fixed-width big-endian records: lo_k as sent in binary
-- (int8 µs since 2000-01-01, the event's timestamp), account_id (16 bytes), the row count (int8),
-- their amount in cents (int8), and the country code (2 bytes), in no order (the reader sorts).
-- Countries without rows in the range give no record. LATERAL with OFFSET 0: index range scans per
-- account, not joins over every tile.
WITH tiles AS (
    SELECT a.account_id, r.at, t.country, t.txns, t.cents
    FROM unnest(%(account_ids)s::uuid[]) AS a(account_id)
    CROSS JOIN unnest(%(hour_at)s::timestamptz[], %(hour_from)s::timestamptz[], %(hour_to)s::timestamptz[])
        AS r(at, since, until)
    CROSS JOIN LATERAL (
        SELECT h.country, h.txns, h.cents FROM banking_account_hours AS h
        WHERE h.account_id = a.account_id AND h.hour >= r.since AND h.hour < r.until
        OFFSET 0
    ) AS t
    UNION ALL
    SELECT a.account_id, r.at, t.country, t.txns, t.cents
    FROM unnest(%(account_ids)s::uuid[]) AS a(account_id)
    CROSS JOIN unnest(%(day_at)s::timestamptz[], %(day_from)s::timestamptz[], %(day_to)s::timestamptz[])
        AS r(at, since, until)
    CROSS JOIN LATERAL (
        SELECT d.country, d.txns, d.cents FROM banking_account_days AS d
        WHERE d.account_id = a.account_id AND d.day >= r.since AND d.day < r.until
        OFFSET 0
    ) AS t
    UNION ALL
    SELECT a.account_id, %(block_at)s::timestamptz, b.country, b.txns, b.cents
    FROM unnest(%(account_ids)s::uuid[]) AS a(account_id)
    CROSS JOIN LATERAL (
        SELECT k.country, k.txns, k.cents FROM banking_account_block AS k
        WHERE k.account_id = a.account_id
        OFFSET 0
    ) AS b
    WHERE %(block_at)s::timestamptz IS NOT NULL
)
SELECT string_agg(
           timestamptz_send(s.at)
           || uuid_send(s.account_id)
           || int8send(s.txns)
           || int8send(s.cents)
           || bpcharsend(s.country),
           ''::bytea)
FROM (
    SELECT account_id, at, country, sum(txns)::bigint AS txns, sum(cents)::bigint AS cents
    FROM tiles
    GROUP BY account_id, at, country
) AS s
WHERE s.txns <> 0;
