-- How many rows and minutes of the range a given run already loaded (its audit rows), if it did.
SELECT coalesce(sum(rows), 0)::integer, count(*)::integer FROM banking_batches
WHERE window_start >= %(start)s AND window_end <= %(end)s AND run_id = %(run_id)s;
