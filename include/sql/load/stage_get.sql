SELECT rows, summary, payload FROM banking_staging
WHERE window_start = %(start)s AND window_end = %(end)s
FOR UPDATE;
