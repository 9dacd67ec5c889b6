-- Emails may carry codes (invitations, resets, verification): their bodies are kept sealed
-- under the master key until delivery (`body_sealed`, bound to the row's id), and scrubbed
-- when delivered or when delivery finally fails. `body` stays for rows enqueued before this
-- migration (sent as they are, then scrubbed) and is empty for every new row.
ALTER TABLE email_outbox ADD COLUMN body_sealed bytea;

-- Finished rows scrubbed now: a failed invitation kept its code in clear. (The migrating role
-- owns the table; lifting FORCE for these statements lets it reach every tenant's rows.)
ALTER TABLE email_outbox NO FORCE ROW LEVEL SECURITY;
UPDATE email_outbox SET body = '', body_sealed = NULL
 WHERE (delivered_at IS NOT NULL OR failed_at IS NOT NULL) AND (body <> '' OR body_sealed IS NOT NULL);
ALTER TABLE email_outbox FORCE ROW LEVEL SECURITY;
