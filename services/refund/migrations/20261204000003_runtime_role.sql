-- The role the running service acts as (`database.runtime_role`: the pool runs
-- `SET ROLE refund_runtime` on each connection), while migrations run as the connecting role,
-- which owns the tables. What is granted here is all the running service may do: read and
-- write its tables, except the audit trail and the policy versions, which it may only insert
-- and read.
--
-- The role belongs to the cluster, so services sharing a server (and tests migrating many
-- databases at once) may create it concurrently: creation is skipped when it exists and a
-- concurrent creation's duplicate is ignored.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'refund_runtime') THEN
        CREATE ROLE refund_runtime NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The connecting role must be able to SET ROLE to it (a superuser already can).
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'refund_runtime', 'MEMBER') THEN
        EXECUTE format('GRANT refund_runtime TO %I', current_user);
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO refund_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO refund_runtime;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO refund_runtime;
-- Tables and sequences later migrations create.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO refund_runtime;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO refund_runtime;

-- Append-only and immutable.
REVOKE UPDATE, DELETE, TRUNCATE ON refund_audit FROM refund_runtime;
REVOKE UPDATE, DELETE, TRUNCATE ON refund_policy FROM refund_runtime;
-- Migrations are the owner's business.
REVOKE ALL ON _sqlx_migrations FROM refund_runtime;
