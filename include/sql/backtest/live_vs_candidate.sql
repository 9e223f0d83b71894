-- "Live vs candidate" for one finished backtest, one row per rule ('*' = overall, first): the
-- dashboard's table panel (Grafana: replace %(backtest_id)s with '$backtest_id'). Readable by
-- banking_reader. Precision and recall are NULL when nothing was flagged / nothing was fraud.
SELECT l.rule_id,
       l.hits AS live_hits, c.hits AS candidate_hits,
       l.rejected AS live_rejected, c.rejected AS candidate_rejected,
       l.rejected_amount AS live_rejected_amount, c.rejected_amount AS candidate_rejected_amount,
       l.true_positives AS live_true_positives, c.true_positives AS candidate_true_positives,
       l.fraud_total,
       round(l."precision"::numeric, 3) AS live_precision, round(c."precision"::numeric, 3) AS candidate_precision,
       round(l.recall::numeric, 3) AS live_recall, round(c.recall::numeric, 3) AS candidate_recall
FROM banking_backtest_runs r
JOIN banking_backtest_metrics l ON l.backtest_id = r.backtest_id AND l.variant = 'live'
JOIN banking_backtest_metrics c ON c.backtest_id = r.backtest_id AND c.variant = 'candidate' AND c.rule_id = l.rule_id
WHERE r.backtest_id = %(backtest_id)s AND r.status = 'succeeded'
ORDER BY l.rule_id <> '*', l.rule_id;
