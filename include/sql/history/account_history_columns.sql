-- Earlier transactions of the given accounts in [since, until), oldest first, as the rules see them,
-- packed into one bytea of fixed-width big-endian records (history.read_history_columns): the
-- timestamp as microseconds since the epoch (int8), account_id and card_ref (16 bytes each), the
-- amount in cents (int8), and the country as its 0-based position in %(countries)s (int4; a
-- country not in the list gets cardinality(countries)). One value instead of a message per row.
SELECT string_agg(
           int8send((extract(epoch FROM "timestamp") * 1000000)::bigint)
           || uuid_send(account_id)
           || uuid_send(card_ref)
           || int8send((amount * 100)::bigint)
           || int4send(coalesce(array_position(%(countries)s::text[], country::text) - 1,
                                cardinality(%(countries)s::text[]))::integer),
           ''::bytea ORDER BY "timestamp")
FROM banking_data
WHERE account_id = ANY(%(account_ids)s)
  AND "timestamp" >= %(since)s AND "timestamp" < %(until)s;
