-- Least privilege. Nobody but the owner creates objects in the public schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO banking_reader, banking_writer;

GRANT SELECT ON banking_data, banking_batches, banking_population, accounts, cards, merchants, blacklist
    TO banking_reader;

GRANT SELECT ON banking_population, accounts, cards, merchants, blacklist TO banking_writer;
GRANT SELECT, INSERT, DELETE ON banking_data TO banking_writer;
GRANT SELECT, INSERT, UPDATE, DELETE ON banking_batches, banking_staging TO banking_writer;

REVOKE ALL ON FUNCTION banking_ensure_partitions(timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION banking_drop_partitions_before(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION banking_ensure_partitions(timestamptz, timestamptz) TO banking_writer;
GRANT EXECUTE ON FUNCTION banking_drop_partitions_before(date) TO banking_writer;
