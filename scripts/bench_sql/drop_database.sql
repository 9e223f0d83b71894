-- make bench (steady): drop a database of the section's own (its name comes as an identifier).
DROP DATABASE IF EXISTS {dbname} WITH (FORCE);
