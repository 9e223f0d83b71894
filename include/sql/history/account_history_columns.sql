-- Earlier transactions of the given accounts in [since, until), oldest first, as the rules see them,
-- packed into one bytea of fixed-width big-endian records (rules.history.unpack_history): the
-- timestamp as sent in binary (int8 microseconds since 2000-01-01), account_id and card_ref (16 bytes
-- each), the amount in cents (int8), and the country code (2 bytes). One value instead of a message
-- per row; the timestamp and the country as stored, not computed per row (an extract(epoch) and an
-- array_position per row cost more than the read itself).
SELECT string_agg(
           timestamptz_send("timestamp")
           || uuid_send(account_id)
           || uuid_send(card_ref)
           || int8send((amount * 100)::bigint)
           || bpcharsend(country),
           ''::bytea ORDER BY "timestamp")
FROM banking_data
WHERE account_id = ANY(%(account_ids)s)
  AND "timestamp" >= %(since)s AND "timestamp" < %(until)s;
