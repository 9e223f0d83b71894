COPY banking_data (
    "timestamp", uniq_id, trans_type, amount, currency, amount_crr, account_holder_name,
    card_presense, merchant_category, card_type, card_id, account_id, account_blacklisted,
    rules_triggered, rules_explanation, decision, risk_score, rule_hits, rule_set_version,
    window_start, window_end, fraud_scenario, channel, country, city, home_country, card_ref,
    merchant_id, merchant_name
) FROM STDIN
