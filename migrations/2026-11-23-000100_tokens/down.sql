DROP POLICY IF EXISTS anon_by_digest ON refresh_tokens;
REVOKE SELECT ON refresh_tokens FROM anon_user;
DROP FUNCTION IF EXISTS app.current_refresh_digest();
DROP INDEX IF EXISTS sessions_api_key_idx;
ALTER TABLE sessions
    DROP CONSTRAINT sessions_kind_check,
    DROP COLUMN api_key_id,
    DROP COLUMN scope;
ALTER TABLE sessions ADD CONSTRAINT sessions_kind_check CHECK (kind IN ('login', 'api_key'));
DROP TABLE IF EXISTS api_keys;
DROP FUNCTION IF EXISTS app.current_api_key_id();
