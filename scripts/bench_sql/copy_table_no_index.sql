-- make bench (copy_cost): copy_table without any index (its checks and defaults only).
DROP TABLE IF EXISTS bench_copy;
CREATE TABLE bench_copy (LIKE banking_data INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
