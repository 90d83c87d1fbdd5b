-- The certificates whose coming expiry staff have been warned of, so that
-- the daily watch warns once per certificate however often it runs (a
-- rerun, a crash after commit, two instances). cert_key names the
-- certificate by product, market, scheme, reference and end date: a
-- renewal with a new end date is a new certificate and warned of again,
-- and re-importing the same certificate (which gives it a new row id) is
-- not.
CREATE TABLE certificate_warnings (
    cert_key    TEXT PRIMARY KEY,
    product_id  INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    market      TEXT NOT NULL,
    scheme      TEXT NOT NULL,
    reference   TEXT NOT NULL,
    valid_until TIMESTAMP NOT NULL,
    warned_at   TIMESTAMP NOT NULL,
    recipients  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX certificate_warnings_until ON certificate_warnings(valid_until);
