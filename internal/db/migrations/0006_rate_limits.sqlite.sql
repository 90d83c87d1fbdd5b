-- Abuse limits shared by every instance (internal/ratelimit): one row per
-- rule, key and fixed window, counting the events in that window. Keys are
-- hashes, never the IP address or email they stand for. A row matters
-- until the window after its own has ended (it is the "previous window" of
-- the sliding estimate), which expires_at records for the sweep.
CREATE TABLE rate_limits (
    rule         TEXT NOT NULL,
    key          TEXT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    hits         INTEGER NOT NULL CHECK (hits > 0),
    PRIMARY KEY (rule, key, window_start)
) WITHOUT ROWID;
CREATE INDEX rate_limits_expiry ON rate_limits(expires_at);
