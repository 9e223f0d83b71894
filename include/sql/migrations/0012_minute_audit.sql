-- Loads replace time, not windows. The stream is a pure function of time, so a load of [a, c)
-- replaces every row, rollup and audit row in [a, c), whichever runs loaded them before. To make
-- that exact, everything a load writes is keyed by minute: a row's window_start/window_end become
-- the minute it falls in, the per-minute rollups are keyed by that minute, and banking_batches holds
-- one audit row per loaded minute (rows = 0 for a quiet minute), with the settings it was loaded
-- with. This migration brings what earlier loads wrote, in windows of several minutes, to that form.
ALTER TABLE banking_batches ADD COLUMN IF NOT EXISTS settings jsonb;

UPDATE banking_data
SET window_start = date_trunc('minute', "timestamp", 'UTC'),
    window_end = date_trunc('minute', "timestamp", 'UTC') + interval '1 minute'
WHERE window_end - window_start <> interval '1 minute';

WITH windows AS (
    DELETE FROM banking_batches WHERE window_end - window_start <> interval '1 minute' RETURNING *
)
INSERT INTO banking_batches (
    window_start, window_end, rows, approved, review, rejected, injected_fraud, amount,
    rule_set_version, settings_digest, population_version, run_id, started_at, finished_at, loads
)
SELECT m.minute, m.minute + interval '1 minute', s.rows, s.approved, s.review, s.rejected,
       s.injected_fraud, s.amount, w.rule_set_version, w.settings_digest, w.population_version,
       w.run_id, w.started_at, w.finished_at, w.loads
FROM windows AS w
CROSS JOIN LATERAL generate_series(w.window_start, w.window_end - interval '1 minute', interval '1 minute')
    AS m(minute)
CROSS JOIN LATERAL (
    SELECT count(*)::integer AS rows,
           (count(*) FILTER (WHERE decision = 'Approved'))::integer AS approved,
           (count(*) FILTER (WHERE decision = 'Review'))::integer AS review,
           (count(*) FILTER (WHERE decision = 'Rejected'))::integer AS rejected,
           (count(*) FILTER (WHERE fraud_scenario IS NOT NULL))::integer AS injected_fraud,
           coalesce(sum(amount), 0) AS amount
    FROM banking_data
    WHERE "timestamp" >= m.minute AND "timestamp" < m.minute + interval '1 minute'
) AS s
ON CONFLICT (window_start, window_end) DO NOTHING;

WITH windows AS (
    DELETE FROM banking_minute_stats WHERE window_end - window_start <> interval '1 minute' RETURNING *
)
INSERT INTO banking_minute_stats AS t
    (minute, window_start, window_end, trans_type, decision, injected_fraud, txns, amount)
SELECT minute, minute, minute + interval '1 minute', trans_type, decision, injected_fraud, sum(txns), sum(amount)
FROM windows
GROUP BY minute, trans_type, decision, injected_fraud
ON CONFLICT (minute, window_start, window_end, trans_type, decision, injected_fraud)
DO UPDATE SET txns = t.txns + EXCLUDED.txns, amount = t.amount + EXCLUDED.amount;

WITH windows AS (
    DELETE FROM banking_minute_rule_hits WHERE window_end - window_start <> interval '1 minute' RETURNING *
)
INSERT INTO banking_minute_rule_hits AS t
    (minute, window_start, window_end, rule_id, decision, injected_fraud, hits, amount)
SELECT minute, minute, minute + interval '1 minute', rule_id, decision, injected_fraud, sum(hits), sum(amount)
FROM windows
GROUP BY minute, rule_id, decision, injected_fraud
ON CONFLICT (minute, window_start, window_end, rule_id, decision, injected_fraud)
DO UPDATE SET hits = t.hits + EXCLUDED.hits, amount = t.amount + EXCLUDED.amount;
