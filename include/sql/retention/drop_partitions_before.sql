SELECT banking_drop_partitions_before(%(cutoff)s);
