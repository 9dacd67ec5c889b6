-- Password reset codes: one open code per user (a new request replaces it), stored hashed.
CREATE TABLE password_resets (
    user_id      uuid PRIMARY KEY,
    account_id   uuid NOT NULL,
    code_digest  bytea NOT NULL CHECK (length(code_digest) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);

ALTER TABLE password_resets ENABLE ROW LEVEL SECURITY;
ALTER TABLE password_resets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON password_resets TO access_user
    USING (account_id = app.current_account_id())
    WITH CHECK (account_id = app.current_account_id());
GRANT SELECT, INSERT, UPDATE ON password_resets TO access_user;

-- Confirming starts anonymous: it sees the reset of the email it names.
GRANT SELECT ON password_resets TO anon_user;
CREATE POLICY anon_by_email ON password_resets FOR SELECT TO anon_user
    USING (user_id IN (SELECT id FROM users WHERE email = app.current_user_email()));
