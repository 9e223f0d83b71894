SELECT count(*) FROM banking_batches WHERE window_end <= %(cutoff)s;
