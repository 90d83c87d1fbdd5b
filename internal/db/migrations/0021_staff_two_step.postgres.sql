-- Two-step sign-in for the back office (package staff): a staff member
-- who turns it on is asked, after their password, for a code from an
-- authenticator app (TOTP, RFC 6238) or one of their recovery codes.
--
-- staff_two_step holds a member's TOTP key. confirmed_at is NULL while
-- the member is setting it up: the key only guards sign-in once a code
-- made from it was typed back. last_step is the last 30-second time step
-- whose code was accepted, so that a code works once.
CREATE TABLE staff_two_step (
    staff_id     BIGINT PRIMARY KEY REFERENCES staff(id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,             -- the key, in base32 as authenticator apps take it
    confirmed_at TIMESTAMPTZ,
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL
);

-- Recovery codes, for a lost phone: each works once. code_hash is the hex
-- SHA-256 of the code (they carry 50 random bits, so no slow hash is
-- needed).
CREATE TABLE staff_recovery_codes (
    staff_id  BIGINT NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (staff_id, code_hash)
);

-- A sign-in whose password was right and whose second step is still to
-- come. id is the hex SHA-256 of the token in the browser's cookie;
-- failures counts wrong codes, and the challenge ends at the fifth.
CREATE TABLE staff_challenges (
    id         TEXT PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    failures   INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX staff_challenges_expiry ON staff_challenges(expires_at);
