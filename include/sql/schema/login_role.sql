-- Composed with psycopg.sql: {role} and {group} are identifiers, {password} a literal.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {role_name}) THEN
        CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;
ALTER ROLE {role} WITH LOGIN PASSWORD {password};
GRANT {group} TO {role};
