-- The stored transactions of the windows that start in [chunk_start, chunk_end) and end by the
-- range's end, in replay order: window by window, then as the rules see them, (timestamp, uniq_id).
-- Amounts come back as integer cents, the unit of model.Transaction. The timestamp bounds let
-- PostgreSQL prune to the chunk's partitions (rows_end is the last window end of the chunk).
SELECT window_start, window_end, uniq_id, "timestamp", trans_type, channel,
       (amount * 100)::bigint AS amount_cents, currency, (amount_crr * 100)::bigint AS amount_crr_cents,
       account_id, account_holder_name, account_blacklisted, home_country,
       card_ref, card_id, card_type, card_presense,
       merchant_id, merchant_name, merchant_category, country, city, fraud_scenario,
       decision, risk_score, rule_hits, rule_set_version
FROM banking_data
WHERE window_start >= %(chunk_start)s AND window_start < %(chunk_end)s AND window_end <= %(range_end)s
  AND "timestamp" >= %(chunk_start)s AND "timestamp" < %(rows_end)s
ORDER BY window_start, window_end, "timestamp", uniq_id;
