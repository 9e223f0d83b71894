-- Column order of loader.encode_chunks: the timestamp, id and amounts, then columns formatted once
-- per small table and reused: (trans_type, card_presense, channel), the scoring columns, the
-- scenario with the batch's columns, the card's (with its account) and the merchant's.
COPY banking_data (
    "timestamp", uniq_id, amount, amount_crr, trans_type, card_presense, channel,
    rules_triggered, rules_explanation, decision, risk_score, rule_hits, fraud_scenario,
    rule_set_version, window_start, window_end,
    account_holder_name, currency, home_country, account_id, account_blacklisted, card_ref, card_id, card_type,
    merchant_id, merchant_name, merchant_category, country, city
) FROM STDIN
