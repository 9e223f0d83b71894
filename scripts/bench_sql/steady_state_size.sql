-- make bench (steady): bytes on disk of the history rules' tiles (tables, indexes, TOAST) and the
-- rows they cover in banking_data.
SELECT pg_total_relation_size('banking_account_hours') + pg_total_relation_size('banking_account_days'),
       (SELECT count(*) FROM banking_data);
