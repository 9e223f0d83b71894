-- make bench (freshness): how many scheduled runs loaded a minute that ended after the given time.
SELECT count(DISTINCT run_id) FROM banking_batches WHERE run_id LIKE 'scheduled__%%' AND window_end > %s;
