-- Replace the window's share of the per-minute rollups with what its rows say now.
DELETE FROM banking_minute_stats WHERE window_start = %(start)s AND window_end = %(end)s;
DELETE FROM banking_minute_rule_hits WHERE window_start = %(start)s AND window_end = %(end)s;

INSERT INTO banking_minute_stats
    (minute, window_start, window_end, trans_type, decision, injected_fraud, txns, amount)
SELECT date_trunc('minute', "timestamp"), window_start, window_end, trans_type, decision,
       fraud_scenario IS NOT NULL, count(*), sum(amount)
FROM banking_data
WHERE window_start = %(start)s AND window_end = %(end)s
  AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO banking_minute_rule_hits
    (minute, window_start, window_end, rule_id, decision, injected_fraud, hits, amount)
SELECT date_trunc('minute', d."timestamp"), d.window_start, d.window_end, h.hit ->> 'rule', d.decision,
       d.fraud_scenario IS NOT NULL, count(*), sum(d.amount)
FROM banking_data d
CROSS JOIN LATERAL jsonb_array_elements(d.rule_hits) AS h(hit)
WHERE d.window_start = %(start)s AND d.window_end = %(end)s
  AND d."timestamp" >= %(start)s AND d."timestamp" < %(end)s
GROUP BY 1, 2, 3, 4, 5, 6;
