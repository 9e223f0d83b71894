-- The timestamp bounds let PostgreSQL prune to the window's partitions.
DELETE FROM banking_data
WHERE window_start = %(start)s AND window_end = %(end)s
  AND "timestamp" >= %(start)s AND "timestamp" < %(end)s;
