-- Loaded windows that overlap the range [start, end) without lying inside it: not replayed.
SELECT count(*)
FROM banking_batches
WHERE window_start < %(end)s AND window_end > %(start)s
  AND NOT (window_start >= %(start)s AND window_end <= %(end)s);
