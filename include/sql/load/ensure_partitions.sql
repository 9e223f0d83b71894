SELECT banking_ensure_partitions(%(start)s, %(end)s);
