-- Credential containment: what a session shows its owner, one-time MFA tokens, and keys that
-- stay disabled once their owner loses the developer role.

-- Where a session was last seen (set when it starts and at each refresh), for
-- `GET /v1/me/sessions`.
ALTER TABLE sessions
    ADD COLUMN ip inet,
    ADD COLUMN country text CHECK (length(country) <= 64),
    ADD COLUMN last_seen_at timestamptz;

-- Why a key stopped working (deleted by its owner, by an administrator, or disabled when the
-- owner lost the developer role); a disabled key never comes back.
ALTER TABLE api_keys ADD COLUMN deleted_reason text CHECK (length(deleted_reason) <= 100);

-- Each MFA token (the password step's proof) completes one sign-in at most.
CREATE TABLE redeemed_mfa_tokens (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL,
    user_id     uuid NOT NULL,
    -- After this the token is refused by its signature's expiry anyway: the row may go.
    expires_at  timestamptz NOT NULL,
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);
CREATE INDEX redeemed_mfa_tokens_expiry_idx ON redeemed_mfa_tokens (expires_at);
ALTER TABLE redeemed_mfa_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE redeemed_mfa_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON redeemed_mfa_tokens TO access_user
    USING (account_id = app.current_account_id())
    WITH CHECK (account_id = app.current_account_id());
GRANT SELECT, INSERT ON redeemed_mfa_tokens TO access_user;

-- A key created without scopes used to carry all of its owner's permissions; it now covers
-- the content permissions and `users:read`. Sessions exchanged under the old rule carry the
-- wider scope in their tokens: they end here, and the integration exchanges its key again.
-- Every running instance drops them from its session cache at once. (The migrating role owns
-- both tables; lifting FORCE for this statement lets it see every tenant's rows without being
-- a superuser — under FORCE it would see, and end, none.)
ALTER TABLE sessions NO FORCE ROW LEVEL SECURITY;
ALTER TABLE api_keys NO FORCE ROW LEVEL SECURITY;
WITH ended AS (
    UPDATE sessions s
       SET revoked_at = now(), revoked_reason = 'unscoped keys narrowed'
      FROM api_keys k
     WHERE s.api_key_id = k.id AND k.scopes IS NULL AND s.revoked_at IS NULL
    RETURNING s.id
)
SELECT count(pg_notify('nudgescribe_sessions', 's:' || id)) FROM ended;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
