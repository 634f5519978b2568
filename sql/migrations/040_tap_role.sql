-- The read-only role every TAP query runs as (the service connects as it, so no query can
-- SET ROLE back to the owner). It can read the published views and TAP_SCHEMA and nothing
-- else: views run with their owner's rights, so the base schemas are never granted.
-- Roles are cluster-wide, hence the existence check. Its password (external databases) is
-- set by the operator, never here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{tap_role}') THEN
        CREATE ROLE {tap_role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
END $$;

-- Defaults that hold even if a query reached the database without the service's own SETs.
ALTER ROLE {tap_role} SET default_transaction_read_only = on;
ALTER ROLE {tap_role} SET statement_timeout = '600s';
ALTER ROLE {tap_role} SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE {tap_role} SET search_path = pg_catalog, public;

GRANT USAGE ON SCHEMA {published_schema}, tap_schema TO {tap_role};
-- q3c and pg_sphere functions live in public; nothing else there is granted.
GRANT USAGE ON SCHEMA public TO {tap_role};
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
-- Server-side file and process functions stay with superusers (they are by default; be explicit).
REVOKE EXECUTE ON FUNCTION pg_read_file(text), pg_read_binary_file(text), pg_ls_dir(text)
    FROM PUBLIC;
