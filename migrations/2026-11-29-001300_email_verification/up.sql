-- Email verification: until a user proves their address, they cannot invite anyone (the
-- platform's mail must not be an open relay for a self-made account's text).
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- Users who chose a password before this release are taken as verified (they could invite
-- until now; a lost ability would surprise them more than it protects anyone). The migrating
-- role owns the table; lifting FORCE for this statement lets it reach every tenant's rows.
ALTER TABLE users NO FORCE ROW LEVEL SECURITY;
UPDATE users SET email_verified_at = created_at WHERE password_hash IS NOT NULL;
ALTER TABLE users FORCE ROW LEVEL SECURITY;

-- One open verification code per user (a new one replaces it), stored hashed.
CREATE TABLE email_verifications (
    user_id      uuid PRIMARY KEY,
    account_id   uuid NOT NULL,
    code_digest  bytea NOT NULL CHECK (length(code_digest) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
ALTER TABLE email_verifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_verifications FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON email_verifications TO access_user
    USING (account_id = app.current_account_id())
    WITH CHECK (account_id = app.current_account_id());
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verifications TO access_user;
