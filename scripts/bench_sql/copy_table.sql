-- make bench: an empty table like banking_data (its checks, defaults and indexes, not partitioned)
-- for the plain COPY baselines.
DROP TABLE IF EXISTS bench_copy;
CREATE TABLE bench_copy (LIKE banking_data INCLUDING ALL);
