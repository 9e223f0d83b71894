-- Rows per (minute, trans_type, decision, injected_fraud) of one window: loader.rollup_rows.
COPY banking_minute_stats
    (minute, window_start, window_end, trans_type, decision, injected_fraud, txns, amount)
FROM STDIN
