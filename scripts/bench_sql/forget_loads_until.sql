-- make bench (dashboard): forget the loads of windows ending by the given time, before loading them again.
DELETE FROM banking_batches WHERE window_end <= %s;
