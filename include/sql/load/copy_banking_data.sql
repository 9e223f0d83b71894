-- Column order of loader.encode_chunks: the per-row columns, then the batch's, the card's
-- (with its account) and the merchant's, each of the last three formatted once and reused.
COPY banking_data (
    "timestamp", uniq_id, trans_type, amount, amount_crr, card_presense, channel,
    rules_triggered, rules_explanation, decision, risk_score, rule_hits, fraud_scenario,
    rule_set_version, window_start, window_end,
    account_holder_name, currency, home_country, account_id, account_blacklisted, card_ref, card_id, card_type,
    merchant_id, merchant_name, merchant_category, country, city
) FROM STDIN
