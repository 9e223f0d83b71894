-- make bench (copy_cost): the load with the most rows (its minutes share the transaction's start time).
SELECT min(window_start), max(window_end), sum(rows)
FROM banking_batches GROUP BY started_at ORDER BY 3 DESC, 1 LIMIT 1;
