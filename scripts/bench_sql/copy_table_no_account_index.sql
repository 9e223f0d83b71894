-- make bench (copy_cost): copy_table without the account history index (account_id,
-- "timestamp" ...), found by its definition so that this follows banking_data's indexes.
DROP TABLE IF EXISTS bench_copy;
CREATE TABLE bench_copy (LIKE banking_data INCLUDING ALL);
DO $$ BEGIN EXECUTE (SELECT format('DROP INDEX %s', indexrelid::regclass) FROM pg_index WHERE indrelid = 'bench_copy'::regclass AND pg_get_indexdef(indexrelid) LIKE '%(account_id, "timestamp")%'); END $$;
