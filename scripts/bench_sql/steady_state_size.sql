-- make bench (steady): bytes on disk of the history rules' state (tables, indexes, TOAST): the hour
-- tiles' partitions, the day tiles and the block; and the rows they cover in banking_data.
SELECT (SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint FROM pg_partition_tree('banking_account_hours'))
       + pg_total_relation_size('banking_account_days') + pg_total_relation_size('banking_account_block'),
       (SELECT count(*) FROM banking_data);
