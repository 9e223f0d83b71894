-- Binary COPY, in the column order of copy_format.encode_chunks: the fixed-width columns packed per
-- row, then the fields from its small tables: (trans_type, card_presense, channel, fraud_scenario,
-- rule_set_version), the scoring columns, the card's (with its account's) and the merchant's.
COPY banking_data (
    "timestamp", uniq_id, amount, amount_crr, window_start, window_end,
    trans_type, card_presense, channel, fraud_scenario, rule_set_version,
    rules_triggered, rules_explanation, decision, risk_score, rule_hits,
    account_holder_name, currency, home_country, account_id, account_blacklisted, card_ref, card_id, card_type,
    merchant_id, merchant_name, merchant_category, country, city
) FROM STDIN (FORMAT binary)
