-- Roles are cluster-wide; several databases (tests, instances) may migrate at once.
SELECT pg_advisory_xact_lock(7346235001);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'access_user') THEN
        CREATE ROLE access_user NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon_user') THEN
        CREATE ROLE anon_user NOLOGIN;
    END IF;
    -- The login role the server connects with switches into these per transaction.
    EXECUTE format('GRANT access_user, anon_user TO %I', current_user);
END
$$;

GRANT USAGE ON SCHEMA public TO access_user, anon_user;

CREATE SCHEMA app;
GRANT USAGE ON SCHEMA app TO access_user, anon_user;

-- The tenant of the current transaction, or NULL when none was set.
CREATE FUNCTION app.current_account_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.account_id', true), '')::uuid $$;

CREATE FUNCTION app.current_user_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

CREATE FUNCTION app.current_user_email() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.user_email', true), '') $$;

CREATE TABLE accounts (
    id          uuid PRIMARY KEY,
    account_id  uuid GENERATED ALWAYS AS (id) STORED,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, id)
);
CREATE INDEX workspaces_account_idx ON workspaces (account_id);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Stored trimmed and lower-cased; a login name, so unique across accounts.
    email          text NOT NULL CHECK (email = lower(email)),
    full_name      text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    password_hash  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    UNIQUE (account_id, id)
);
CREATE INDEX users_account_idx ON users (account_id);

CREATE TABLE account_roles (
    account_id  uuid NOT NULL,
    user_id     uuid NOT NULL,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'member')),
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role),
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
CREATE INDEX account_roles_account_idx ON account_roles (account_id);

CREATE TABLE workspace_roles (
    account_id    uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    user_id       uuid NOT NULL,
    role          text NOT NULL CHECK (role IN ('manager', 'editor', 'viewer')),
    granted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, workspace_id),
    FOREIGN KEY (account_id, workspace_id) REFERENCES workspaces (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
CREATE INDEX workspace_roles_workspace_idx ON workspace_roles (workspace_id);

CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL,
    user_id         uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('login', 'api_key')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text,
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- Opaque refresh tokens, stored as SHA-256 digests; `used_at` marks a retired one.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    account_id  uuid NOT NULL,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Append-only audit trail of authentication events. `account_id` is NULL for attempts that
-- named no known user; those are visible to operators only.
CREATE TABLE auth_events (
    id                          uuid PRIMARY KEY,
    account_id                  uuid REFERENCES accounts (id) ON DELETE CASCADE,
    at                          timestamptz NOT NULL DEFAULT now(),
    event                       text NOT NULL,
    user_id                     uuid,
    client_id                   uuid,
    ip                          inet,
    country                     text,
    city                        text,
    success                     boolean NOT NULL,
    failed_signin_attempts      integer NOT NULL DEFAULT 0,
    failed_validation_attempts  integer NOT NULL DEFAULT 0,
    detail                      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX auth_events_account_at_idx ON auth_events (account_id, at DESC);

-- Token signing keys: global, never visible to the request roles.
CREATE TABLE signing_keys (
    kid                 text PRIMARY KEY,
    algorithm           text NOT NULL CHECK (algorithm = 'EdDSA'),
    public_key          bytea NOT NULL CHECK (length(public_key) = 32),
    -- PKCS#8, sealed (AES-256-GCM) under the master key; NULL for keys held outside the database.
    private_key_sealed  bytea,
    created_at          timestamptz NOT NULL DEFAULT now(),
    retired_at          timestamptz
);

-- Row-level security: every tenant table, forced (the table owner obeys it too).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['accounts', 'workspaces', 'users', 'account_roles',
                             'workspace_roles', 'sessions', 'refresh_tokens', 'auth_events']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO access_user '
            'USING (account_id = app.current_account_id()) '
            'WITH CHECK (account_id = app.current_account_id())', t);
    END LOOP;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON accounts, workspaces, users, account_roles,
    workspace_roles, sessions, refresh_tokens TO access_user;
-- The audit trail is append-only for the application.
GRANT SELECT, INSERT ON auth_events TO access_user;

-- The anonymous authentication path sees exactly one user: the one whose email it is asking for.
GRANT SELECT ON users, account_roles TO anon_user;
CREATE POLICY anon_by_email ON users FOR SELECT TO anon_user
    USING (email = app.current_user_email());
CREATE POLICY anon_by_email ON account_roles FOR SELECT TO anon_user
    USING (user_id IN (SELECT id FROM users WHERE email = app.current_user_email()));
-- ... and may record attempts that named no known user.
GRANT INSERT ON auth_events TO anon_user;
CREATE POLICY anon_unknown_user ON auth_events FOR INSERT TO anon_user
    WITH CHECK (account_id IS NULL);
