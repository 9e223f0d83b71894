-- One run per backtest id at a time: a session lock, held until unlock.sql or the connection ends.
SELECT pg_try_advisory_lock(hashtext('banking_backtest'), hashtext(%(backtest_id)s));
