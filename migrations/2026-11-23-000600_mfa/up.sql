-- TOTP multi-factor authentication: the secret sealed under the master key (never in clear),
-- the last accepted time step (no replay), and single-use recovery codes (hashed).
CREATE TABLE user_mfa (
    user_id         uuid PRIMARY KEY,
    account_id      uuid NOT NULL,
    secret_sealed   bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    enabled_at      timestamptz,
    last_used_step  bigint,
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);

CREATE TABLE mfa_recovery_codes (
    code_digest  bytea PRIMARY KEY CHECK (length(code_digest) = 32),
    user_id      uuid NOT NULL,
    account_id   uuid NOT NULL,
    used_at      timestamptz,
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
CREATE INDEX mfa_recovery_codes_user_idx ON mfa_recovery_codes (user_id);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['user_mfa', 'mfa_recovery_codes']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON %I TO access_user '
            'USING (account_id = app.current_account_id()) '
            'WITH CHECK (account_id = app.current_account_id())', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO access_user', t);
    END LOOP;
END
$$;

-- The sign-in path reads whether MFA is on for the user it found by email.
GRANT SELECT ON user_mfa TO anon_user;
CREATE POLICY anon_by_email ON user_mfa FOR SELECT TO anon_user
    USING (user_id IN (SELECT id FROM users WHERE email = app.current_user_email()));
