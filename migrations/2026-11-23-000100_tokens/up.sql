-- API keys, richer sessions, and the anonymous lookups of the client API.

CREATE TABLE api_keys (
    id             uuid PRIMARY KEY,
    account_id     uuid NOT NULL,
    user_id        uuid NOT NULL,
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- Space-separated permissions the key may ever be exchanged for; NULL: the owner's.
    scopes         text,
    -- SHA-256 of the secret part; the secret itself is never stored.
    secret_digest  bytea NOT NULL CHECK (length(secret_digest) = 32),
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz,
    deleted_at     timestamptz,
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
CREATE INDEX api_keys_owner_idx ON api_keys (user_id) WHERE deleted_at IS NULL;

ALTER TABLE sessions
    ADD COLUMN scope text NOT NULL DEFAULT '',
    ADD COLUMN api_key_id uuid REFERENCES api_keys (id) ON DELETE CASCADE,
    DROP CONSTRAINT sessions_kind_check,
    ADD CONSTRAINT sessions_kind_check CHECK (kind IN ('login', 'api_key', 'short_lived'));
CREATE INDEX sessions_api_key_idx ON sessions (api_key_id) WHERE api_key_id IS NOT NULL;

ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_keys TO access_user
    USING (account_id = app.current_account_id())
    WITH CHECK (account_id = app.current_account_id());
GRANT SELECT, INSERT, UPDATE ON api_keys TO access_user;

-- The anonymous exchange path sees exactly the key it names ...
CREATE FUNCTION app.current_api_key_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('app.api_key_id', true), '')::uuid $$;
GRANT SELECT ON api_keys TO anon_user;
CREATE POLICY anon_by_id ON api_keys FOR SELECT TO anon_user
    USING (id = app.current_api_key_id());

-- ... and the refresh path exactly the refresh token whose digest it presents.
CREATE FUNCTION app.current_refresh_digest() RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT decode(NULLIF(current_setting('app.refresh_digest', true), ''), 'hex') $$;
GRANT SELECT ON refresh_tokens TO anon_user;
CREATE POLICY anon_by_digest ON refresh_tokens FOR SELECT TO anon_user
    USING (token_hash = app.current_refresh_digest());
