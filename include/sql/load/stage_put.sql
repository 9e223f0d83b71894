INSERT INTO banking_staging (window_start, window_end, rows, summary, payload)
VALUES (%(start)s, %(end)s, %(rows)s, %(summary)s, %(payload)s)
ON CONFLICT (window_start, window_end) DO UPDATE SET
    rows = EXCLUDED.rows, summary = EXCLUDED.summary, payload = EXCLUDED.payload, staged_at = now();
