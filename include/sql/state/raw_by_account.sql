-- The raw rows of the given accounts in [%(since)s, %(until)s), in the record format of
-- history/account_history_columns.sql but in no order (the reader sorts them with the aggregates),
-- for a range much wider than the window (the short spans' look-back): one index range scan per
-- account (LATERAL; OFFSET 0 keeps the planner from flattening it), not a scan of the range's every
-- row filtered by account. A range no wider than the window reads state/raw_by_time.sql.
SELECT string_agg(
           timestamptz_send(d."timestamp")
           || uuid_send(d.account_id)
           || uuid_send(d.card_ref)
           || int8send((d.amount * 100)::bigint)
           || bpcharsend(d.country),
           ''::bytea)
FROM unnest(%(account_ids)s::uuid[]) AS a(account_id)
CROSS JOIN LATERAL (
    SELECT b."timestamp", b.account_id, b.card_ref, b.amount, b.country
    FROM banking_data AS b
    WHERE b.account_id = a.account_id
      AND b."timestamp" >= %(since)s AND b."timestamp" < %(until)s
    OFFSET 0
) AS d;
