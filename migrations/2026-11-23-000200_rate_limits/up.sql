-- Shared rate-limit counters: one row per bucket and fixed window. UNLOGGED: counters are
-- worth no WAL, and losing them in a crash only forgives a minute of hits.
CREATE UNLOGGED TABLE rate_limit_hits (
    bucket        text NOT NULL,
    window_start  timestamptz NOT NULL,
    hits          integer NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

-- Keys become active for signing some time after they are published, so that every instance
-- can verify a new key's tokens before any instance signs with it.
ALTER TABLE signing_keys ADD COLUMN activates_at timestamptz NOT NULL DEFAULT now();
