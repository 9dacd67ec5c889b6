-- Invitations (a user created without a password, and the hashed code that lets them set one),
-- and the transactional outbox every email leaves through.

CREATE TABLE invitations (
    user_id      uuid PRIMARY KEY,
    account_id   uuid NOT NULL,
    -- SHA-256 of the code; the code itself exists only in the email.
    code_digest  bytea NOT NULL CHECK (length(code_digest) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
);

CREATE TABLE email_outbox (
    id               uuid PRIMARY KEY,
    account_id       uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    to_address       text NOT NULL,
    subject          text NOT NULL,
    -- Emptied once delivered: codes do not linger.
    body             text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- A worker holds the message until then; after, another may take it (the first died).
    claimed_until    timestamptz,
    delivered_at     timestamptz,
    failed_at        timestamptz,
    last_error       text
);
CREATE INDEX email_outbox_pending_idx ON email_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['invitations', 'email_outbox']
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

GRANT SELECT, INSERT, UPDATE ON invitations TO access_user;
-- The application only enqueues; the delivery worker runs as the server's own role.
GRANT SELECT, INSERT ON email_outbox TO access_user;

-- Accepting an invitation starts anonymous: it sees the invitation of the email it names.
GRANT SELECT ON invitations TO anon_user;
CREATE POLICY anon_by_email ON invitations FOR SELECT TO anon_user
    USING (user_id IN (SELECT id FROM users WHERE email = app.current_user_email()));
