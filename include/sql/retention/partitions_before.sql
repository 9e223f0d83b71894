SELECT partition_name FROM banking_partitions_before(%(cutoff)s);
