-- make bench (dashboard): the rows loaded in windows ending by the given time.
SELECT coalesce(sum(rows), 0) FROM banking_batches WHERE window_end <= %s;
