-- Customer accounts: sign-in, sessions, password resets, email
-- verification and saved addresses. Secrets (session and one-time tokens)
-- are never stored: only the hex SHA-256 of each, so that a copy of the
-- database opens no account.

-- email is kept as the customer typed it, for the mail they receive;
-- email_key, its lower case, makes it unique whatever the case.
CREATE TABLE customers (
    id                INTEGER PRIMARY KEY,
    email             TEXT NOT NULL,
    email_key         TEXT NOT NULL UNIQUE,
    name              TEXT NOT NULL,
    password_hash     TEXT NOT NULL,             -- argon2id, PHC string
    email_verified_at TIMESTAMP,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);

-- A signed-in browser or API client. id is the hex SHA-256 of the token
-- the client holds. expires_at is the absolute end; the idle limit is
-- counted from last_seen_at.
CREATE TABLE customer_sessions (
    id           TEXT PRIMARY KEY,
    customer_id  INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('browser', 'api')),
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
CREATE INDEX customer_sessions_customer ON customer_sessions(customer_id);

-- Password reset links: single use, short lived.
CREATE TABLE password_resets (
    token_hash  TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX password_resets_customer ON password_resets(customer_id);

-- Email verification links: email is the address the link was sent to,
-- so a link verifies that address only, not one changed to since.
CREATE TABLE email_verifications (
    token_hash  TEXT PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX email_verifications_customer ON email_verifications(customer_id);

CREATE TABLE customer_addresses (
    id          INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    line1       TEXT NOT NULL,
    line2       TEXT NOT NULL DEFAULT '',
    city        TEXT NOT NULL,
    region      TEXT NOT NULL DEFAULT '',
    postal_code TEXT NOT NULL DEFAULT '',
    country     TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX customer_addresses_customer ON customer_addresses(customer_id);

-- A customer's order history is the orders placed with their (verified)
-- email, whatever its case.
CREATE INDEX orders_email_lower ON orders(lower(email));
