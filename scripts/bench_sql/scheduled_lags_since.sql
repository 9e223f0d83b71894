-- make bench (freshness): seconds from each scheduled run's own minute's end to its commit, for the runs
-- that finished after the first given time and whose minute ended after the second. A run that caught
-- up after downtime also loaded earlier minutes under its run id; only its last minute is its own.
SELECT extract(epoch FROM finished_at - window_end)
FROM (
    SELECT DISTINCT ON (run_id) finished_at, window_end FROM banking_batches
    WHERE run_id LIKE 'scheduled__%%' AND finished_at > %s
    ORDER BY run_id, window_end DESC
) AS own
WHERE window_end > %s
ORDER BY window_end;
