-- make bench (steady): bytes on disk of the history rules' running totals (tables, indexes, TOAST)
-- and the rows they cover in banking_data.
SELECT pg_total_relation_size('banking_account_totals') + pg_total_relation_size('banking_account_countries'),
       (SELECT count(*) FROM banking_data);
