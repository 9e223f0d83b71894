-- The loaded windows that lie inside the range [start, end), in replay (window) order.
SELECT window_start, window_end, rows
FROM banking_batches
WHERE window_start >= %(start)s AND window_end <= %(end)s
ORDER BY window_start, window_end;
