-- Waitlist: shoppers who asked to be told when a product they cannot buy
-- in their market becomes purchasable there (package waitlist).
--
-- One row per (product, market, email): email_key is the trimmed address
-- in lower case, and the unique index on it is what makes a hundred
-- sign-ups of one address one entry. Nothing refers to customers: an
-- entry is a request by an email address, signed in or not.
--
-- An entry waits while it is confirmed (double opt-in), not notified and
-- not unsubscribed. round counts the entry's lives: a sign-up after it
-- was notified or unsubscribed starts a new round, unconfirmed again; the
-- confirmation link and the outbox key of the "available" email carry
-- the round, so an old link cannot confirm the new round and the new
-- round's email is not mistaken for the old one's. confirm_sent_at and
-- confirm_mails hold the confirmation emails back to one an hour.
CREATE TABLE waitlist_entries (
    id              INTEGER PRIMARY KEY,
    product_id      INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    market          TEXT NOT NULL REFERENCES markets(code),
    email           TEXT NOT NULL,
    email_key       TEXT NOT NULL,
    round           INTEGER NOT NULL DEFAULT 1 CHECK (round > 0),
    confirm_mails   INTEGER NOT NULL DEFAULT 0 CHECK (confirm_mails >= 0),
    confirm_sent_at TIMESTAMP,
    confirmed_at    TIMESTAMP,
    notified_at     TIMESTAMP,
    unsubscribed_at TIMESTAMP,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX waitlist_entries_email ON waitlist_entries(product_id, market, email_key);
-- The notifier's question, every half minute: which pairs have confirmed
-- entries still waiting. Only those rows are in this index.
CREATE INDEX waitlist_entries_waiting ON waitlist_entries(product_id, market)
    WHERE confirmed_at IS NOT NULL AND notified_at IS NULL AND unsubscribed_at IS NULL;
CREATE INDEX waitlist_entries_created ON waitlist_entries(market, created_at);
