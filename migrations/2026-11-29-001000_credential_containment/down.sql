DROP TABLE redeemed_mfa_tokens;
ALTER TABLE api_keys DROP COLUMN deleted_reason;
ALTER TABLE sessions DROP COLUMN last_seen_at, DROP COLUMN country, DROP COLUMN ip;
