-- make bench (freshness): how many scheduled runs loaded their minute since the given time.
SELECT count(DISTINCT run_id) FROM banking_batches WHERE run_id LIKE 'scheduled__%%' AND finished_at > %s;
