COPY banking_backtest_results (
    backtest_id, "timestamp", uniq_id, window_start, window_end, amount, fraud_scenario,
    live_decision, live_risk_score, decision, risk_score, rules_triggered, rules_explanation, rule_hits
) FROM STDIN
