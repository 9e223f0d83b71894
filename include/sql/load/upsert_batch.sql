-- The audit row of a window, written in the same transaction as its rows.
INSERT INTO banking_batches (
    window_start, window_end, rows, approved, review, rejected, injected_fraud, amount,
    rule_set_version, settings_digest, population_version, run_id, started_at, finished_at
) VALUES (
    %(start)s, %(end)s, %(rows)s, %(approved)s, %(review)s, %(rejected)s, %(injected_fraud)s, %(amount)s,
    %(rule_set_version)s, %(settings_digest)s, %(population_version)s, %(run_id)s, now(), clock_timestamp()
)
ON CONFLICT (window_start, window_end) DO UPDATE SET
    rows = EXCLUDED.rows,
    approved = EXCLUDED.approved,
    review = EXCLUDED.review,
    rejected = EXCLUDED.rejected,
    injected_fraud = EXCLUDED.injected_fraud,
    amount = EXCLUDED.amount,
    rule_set_version = EXCLUDED.rule_set_version,
    settings_digest = EXCLUDED.settings_digest,
    population_version = EXCLUDED.population_version,
    run_id = EXCLUDED.run_id,
    started_at = EXCLUDED.started_at,
    finished_at = EXCLUDED.finished_at,
    loads = banking_batches.loads + 1;
