-- The raw rows of the given accounts in [%(since)s, %(until)s), in the record format of
-- history/account_history_columns.sql but in no order (the reader sorts them with the aggregates),
-- for a range no wider than the window (a look-back's far edge): the range's rows by time, through
-- the primary key (a few contiguous pages a minute), kept for the given accounts. OFFSET 0 keeps the
-- range scan whatever the plan: a prepared statement's generic plan would probe the account index
-- once per account instead, pages of a day long out of the cache (20 ms against 2). A range as wide
-- as the short spans' look-back reads state/raw_by_account.sql.
SELECT string_agg(
           timestamptz_send(d."timestamp")
           || uuid_send(d.account_id)
           || uuid_send(d.card_ref)
           || int8send((d.amount * 100)::bigint)
           || bpcharsend(d.country),
           ''::bytea)
FROM (
    SELECT b."timestamp", b.account_id, b.card_ref, b.amount, b.country
    FROM banking_data AS b
    WHERE b."timestamp" >= %(since)s AND b."timestamp" < %(until)s
    OFFSET 0
) AS d
WHERE d.account_id IN (SELECT unnest(%(account_ids)s::uuid[]));
