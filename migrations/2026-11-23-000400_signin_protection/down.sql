DROP INDEX IF EXISTS auth_events_account_user_idx;
DROP INDEX IF EXISTS auth_events_account_event_idx;
ALTER TABLE users
    DROP COLUMN locked_until,
    DROP COLUMN failed_validation_attempts,
    DROP COLUMN failed_signin_attempts;
