-- Back-office staff: members who sign in with a password, their sessions,
-- and API keys for programs. As for customers, no secret is stored: only
-- the argon2id hash of each password and the hex SHA-256 of each session
-- token and API key, so that a copy of the database opens no back office.

-- email is kept as typed; email_key, its lower case, makes it unique
-- whatever the case. A member is disabled rather than deleted, so that
-- what they did stays attributed to them.
CREATE TABLE staff (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'support', 'viewer')),
    password_hash TEXT NOT NULL,             -- argon2id, PHC string
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    disabled_at   TIMESTAMP
);

-- A signed-in staff browser. id is the hex SHA-256 of the token it holds;
-- expires_at is the absolute end, and the idle limit counts from
-- last_seen_at.
CREATE TABLE staff_sessions (
    id           TEXT PRIMARY KEY,
    staff_id     INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    created_at   TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions(staff_id);

-- Keys of the back office's API. key_hash is the hex SHA-256 of the key;
-- prefix, its first characters, only tells keys apart in lists. created_by
-- is NULL for keys made from the command line.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'support', 'viewer')),
    key_hash     TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_by   INTEGER REFERENCES staff(id) ON DELETE SET NULL,
    created_at   TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP
);
