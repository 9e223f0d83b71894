INSERT INTO banking_backtest_metrics (
    backtest_id, variant, rule_id, transactions, hits, review, rejected, rejected_amount,
    flagged, true_positives, fraud_total, "precision", recall
) VALUES (
    %(backtest_id)s, %(variant)s, %(rule_id)s, %(transactions)s, %(hits)s, %(review)s, %(rejected)s,
    %(rejected_amount)s, %(flagged)s, %(true_positives)s, %(fraud_total)s, %(precision)s, %(recall)s
);
