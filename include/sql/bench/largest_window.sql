-- make bench (copy_cost): the loaded window with the most rows.
SELECT window_start, window_end, rows FROM banking_batches ORDER BY rows DESC, window_start LIMIT 1;
