-- The per-minute rollups of the load's minutes, replaced in the load transaction by the rows that
-- loader.rollup_rows computes from the batch (load/copy_minute_stats, load/copy_minute_rule_hits).
-- Each statement returns what it deleted per UTC hour, as arrays, which load/apply_rollup_changes
-- takes away from the hours and days (NULLs when nothing was there, as for a live minute).
WITH old AS (
    DELETE FROM banking_minute_stats WHERE minute >= %(start)s AND minute < %(end)s
    RETURNING date_trunc('hour', minute, 'UTC') AS hour, trans_type, decision, injected_fraud, txns, amount
), by_hour AS (
    SELECT hour, trans_type, decision, injected_fraud, sum(txns) AS txns, sum(amount) AS amount
    FROM old
    GROUP BY 1, 2, 3, 4
)
SELECT array_agg(hour) AS stats_hour, array_agg(trans_type) AS stats_trans_type,
       array_agg(decision) AS stats_decision, array_agg(injected_fraud) AS stats_injected_fraud,
       array_agg(txns) AS stats_txns, array_agg(amount) AS stats_amount
FROM by_hour;
WITH old AS (
    DELETE FROM banking_minute_rule_hits WHERE minute >= %(start)s AND minute < %(end)s
    RETURNING date_trunc('hour', minute, 'UTC') AS hour, rule_id, decision, injected_fraud, hits, amount
), by_hour AS (
    SELECT hour, rule_id, decision, injected_fraud, sum(hits) AS hits, sum(amount) AS amount
    FROM old
    GROUP BY 1, 2, 3, 4
)
SELECT array_agg(hour) AS hits_hour, array_agg(rule_id) AS hits_rule_id,
       array_agg(decision) AS hits_decision, array_agg(injected_fraud) AS hits_injected_fraud,
       array_agg(hits) AS hits_hits, array_agg(amount) AS hits_amount
FROM by_hour;
