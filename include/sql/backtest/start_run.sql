-- Start (or restart) a backtest: its run row says "running" and its earlier output is removed,
-- all in one transaction, so readers never see old metrics next to new results.
INSERT INTO banking_backtest_runs (
    backtest_id, status, range_start, range_end, chunk_minutes,
    candidate_version, candidate_source, candidate_rules, run_id, started_at
) VALUES (
    %(backtest_id)s, 'running', %(start)s, %(end)s, %(chunk_minutes)s,
    %(candidate_version)s, %(candidate_source)s, %(candidate_rules)s, %(run_id)s, now()
)
ON CONFLICT (backtest_id) DO UPDATE SET
    status = 'running',
    range_start = EXCLUDED.range_start,
    range_end = EXCLUDED.range_end,
    chunk_minutes = EXCLUDED.chunk_minutes,
    candidate_version = EXCLUDED.candidate_version,
    candidate_source = EXCLUDED.candidate_source,
    candidate_rules = EXCLUDED.candidate_rules,
    live_versions = '{}',
    windows = 0,
    skipped_windows = 0,
    rows = 0,
    changed = 0,
    run_id = EXCLUDED.run_id,
    error = NULL,
    started_at = EXCLUDED.started_at,
    finished_at = NULL;
DELETE FROM banking_backtest_metrics WHERE backtest_id = %(backtest_id)s;
DELETE FROM banking_backtest_results WHERE backtest_id = %(backtest_id)s;
