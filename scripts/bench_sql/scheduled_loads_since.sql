-- make bench (freshness): how many scheduled runs' minutes finished loading since the given time.
SELECT count(*) FROM banking_batches WHERE run_id LIKE 'scheduled__%%' AND finished_at > %s;
