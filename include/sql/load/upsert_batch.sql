-- One audit row per minute of the load (rows = 0 for a quiet minute), written in the same
-- transaction as its rows; a minute loaded again counts one more load.
INSERT INTO banking_batches AS b (
    window_start, window_end, rows, approved, review, rejected, injected_fraud, amount,
    rule_set_version, settings_digest, population_version, settings, run_id, started_at, finished_at
)
SELECT m.minute, m.minute + interval '1 minute', m.rows, m.approved, m.review, m.rejected,
       m.injected_fraud, m.amount, %(rule_set_version)s, %(settings_digest)s, %(population_version)s,
       %(settings)s, %(run_id)s, now(), clock_timestamp()
FROM unnest(%(minutes)s::timestamptz[], %(rows)s::integer[], %(approved)s::integer[],
            %(review)s::integer[], %(rejected)s::integer[], %(injected_fraud)s::integer[],
            %(amount)s::numeric[])
    AS m(minute, rows, approved, review, rejected, injected_fraud, amount)
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
    settings = EXCLUDED.settings,
    run_id = EXCLUDED.run_id,
    started_at = EXCLUDED.started_at,
    finished_at = EXCLUDED.finished_at,
    loads = b.loads + 1;
