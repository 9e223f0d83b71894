-- make bench (freshness): seconds from each scheduled minute's end to its commit, since the given time.
SELECT extract(epoch FROM finished_at - window_end) FROM banking_batches
WHERE run_id LIKE 'scheduled__%%' AND finished_at > %s ORDER BY window_end;
