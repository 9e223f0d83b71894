SELECT pg_advisory_unlock(hashtext('banking_backtest'), hashtext(%(backtest_id)s));
