-- The end of the latest loaded minute before %(before)s (NULL when none): where a scheduled run
-- that follows downtime catches up from. Backwards over the primary key, one row read.
SELECT max(window_start) + interval '1 minute' FROM banking_batches WHERE window_start < %(before)s;
