-- Earlier transactions of the given accounts in [since, until), oldest first, as the rules see them.
SELECT account_id, "timestamp", card_ref, (amount * 100)::bigint AS amount_cents, country
FROM banking_data
WHERE account_id = ANY(%(account_ids)s)
  AND "timestamp" >= %(since)s AND "timestamp" < %(until)s
ORDER BY account_id, "timestamp", uniq_id;
