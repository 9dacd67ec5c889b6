DROP TABLE IF EXISTS email_outbox;
DROP TABLE IF EXISTS invitations;
