-- The raw rows of the given accounts in the disjoint ranges [since_i, until_i), in the record format
-- of history/account_history_columns.sql (the rows the running totals do not stand for). LATERAL: each
-- range is an index range scan of its own day partitions (pruned at run time), not a scan of them all
-- (OFFSET 0 keeps the planner from flattening it into a join of every partition).
SELECT string_agg(
           int8send((extract(epoch FROM d."timestamp") * 1000000)::bigint)
           || uuid_send(d.account_id)
           || uuid_send(d.card_ref)
           || int8send((d.amount * 100)::bigint)
           || int4send(coalesce(array_position(%(countries)s::text[], d.country::text) - 1,
                                cardinality(%(countries)s::text[]))::integer),
           ''::bytea ORDER BY d."timestamp")
FROM unnest(%(since)s::timestamptz[], %(until)s::timestamptz[]) AS r(since, until)
CROSS JOIN LATERAL (
    SELECT b."timestamp", b.account_id, b.card_ref, b.amount, b.country
    FROM banking_data AS b
    WHERE b.account_id = ANY(%(account_ids)s)
      AND b."timestamp" >= r.since AND b."timestamp" < r.until
    OFFSET 0
) AS d;
