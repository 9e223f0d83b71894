-- Hits per (minute, rule, decision, injected_fraud) of one window: loader.rollup_rows.
COPY banking_minute_rule_hits
    (minute, window_start, window_end, rule_id, decision, injected_fraud, hits, amount)
FROM STDIN
