-- Audit rows of windows that ended before the cutoff (their rows are gone with their partitions).
DELETE FROM banking_batches WHERE window_end <= %(cutoff)s;
