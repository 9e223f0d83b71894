-- Group roles (NOLOGIN). Login roles join them: see include/sql/roles/login_role.sql.
--   banking_writer: what the pipeline needs to load windows; it cannot drop tables or create roles.
--   banking_reader: what dashboards need; read-only.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'banking_writer') THEN
        CREATE ROLE banking_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'banking_reader') THEN
        CREATE ROLE banking_reader NOLOGIN;
    END IF;
END
$$;
