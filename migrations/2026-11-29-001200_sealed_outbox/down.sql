ALTER TABLE email_outbox DROP COLUMN body_sealed;
