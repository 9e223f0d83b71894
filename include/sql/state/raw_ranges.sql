-- The raw rows of the given accounts in the disjoint ranges [since_i, until_i), in the record format
-- of history/account_history_columns.sql (the rows the running totals do not stand for).
SELECT string_agg(
           int8send((extract(epoch FROM d."timestamp") * 1000000)::bigint)
           || uuid_send(d.account_id)
           || uuid_send(d.card_ref)
           || int8send((d.amount * 100)::bigint)
           || int4send(coalesce(array_position(%(countries)s::text[], d.country::text) - 1,
                                cardinality(%(countries)s::text[]))::integer),
           ''::bytea ORDER BY d."timestamp")
FROM unnest(%(since)s::timestamptz[], %(until)s::timestamptz[]) AS r(since, until)
JOIN banking_data AS d ON d."timestamp" >= r.since AND d."timestamp" < r.until
WHERE d.account_id = ANY(%(account_ids)s);
