-- A run that stopped half-way: its partial results stay until the next run of the same id.
UPDATE banking_backtest_runs SET status = 'failed', error = %(error)s, finished_at = clock_timestamp()
WHERE backtest_id = %(backtest_id)s AND status = 'running';
