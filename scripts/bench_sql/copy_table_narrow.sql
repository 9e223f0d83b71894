-- make bench (copy_cost): copy_table without the original project's columns that repeat the
-- population on every row (bench.narrow_columns reads which columns are left); the partial index on
-- account_blacklisted goes with its column.
DROP TABLE IF EXISTS bench_copy;
CREATE TABLE bench_copy (LIKE banking_data INCLUDING ALL);
ALTER TABLE bench_copy
    DROP COLUMN account_holder_name, DROP COLUMN currency, DROP COLUMN home_country,
    DROP COLUMN account_blacklisted CASCADE, DROP COLUMN card_id, DROP COLUMN card_type,
    DROP COLUMN merchant_name, DROP COLUMN merchant_category, DROP COLUMN city;
