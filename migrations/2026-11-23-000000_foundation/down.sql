DROP TABLE IF EXISTS signing_keys, auth_events, refresh_tokens, sessions, workspace_roles,
    account_roles, users, workspaces, accounts;
DROP SCHEMA IF EXISTS app CASCADE;
REVOKE USAGE ON SCHEMA public FROM access_user, anon_user;
-- The roles are cluster-wide and may serve other databases; they are left in place.
