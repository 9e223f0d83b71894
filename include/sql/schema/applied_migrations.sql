SELECT version, name, checksum FROM banking_schema_migrations ORDER BY version;
