-- Abuse limits shared by every instance (internal/ratelimit): one row per
-- rule, key and fixed window, counting the events in that window. Keys are
-- hashes, never the IP address or email they stand for. A row matters
-- until the window after its own has ended (it is the "previous window" of
-- the sliding estimate), which expires_at records for the sweep.
--
-- Every counted event updates a row in place, and hits is in no index:
-- the free space that fillfactor leaves on each page lets those updates
-- stay on the page (HOT) instead of adding index entries each time.
CREATE TABLE rate_limits (
    rule         TEXT NOT NULL,
    key          TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    hits         INTEGER NOT NULL CHECK (hits > 0),
    PRIMARY KEY (rule, key, window_start)
) WITH (fillfactor = 70);
CREATE INDEX rate_limits_expiry ON rate_limits(expires_at);
