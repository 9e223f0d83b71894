-- make bench (copy_cost): no rows, only the columns of the table a copy_table* file made.
SELECT * FROM bench_copy LIMIT 0;
