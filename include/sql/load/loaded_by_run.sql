-- How many rows a given run already loaded for the window (its audit row), if it did.
SELECT rows FROM banking_batches
WHERE window_start = %(start)s AND window_end = %(end)s AND run_id = %(run_id)s;
