UPDATE banking_backtest_runs SET
    status = 'succeeded',
    live_versions = %(live_versions)s,
    windows = %(windows)s,
    skipped_windows = %(skipped_windows)s,
    rows = %(rows)s,
    changed = %(changed)s,
    finished_at = clock_timestamp()
WHERE backtest_id = %(backtest_id)s;
