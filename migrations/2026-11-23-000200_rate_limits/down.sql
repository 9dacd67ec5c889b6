ALTER TABLE signing_keys DROP COLUMN activates_at;
DROP TABLE IF EXISTS rate_limit_hits;
