-- Failed-attempt tracking and lockout (the "ChallengeAuth" record of the product documentation).
ALTER TABLE users
    ADD COLUMN failed_signin_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN failed_validation_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until timestamptz;

-- The audit API pages the trail newest first, by event and by user.
CREATE INDEX auth_events_account_event_idx ON auth_events (account_id, event, at DESC);
CREATE INDEX auth_events_account_user_idx ON auth_events (account_id, user_id, at DESC);
