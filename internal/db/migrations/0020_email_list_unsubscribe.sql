-- An email that comes from a list (a waitlist's "it is available") keeps
-- the address that takes its recipient off that list, sent as its
-- List-Unsubscribe header (RFC 2369) with one-click unsubscribing
-- (RFC 8058). Empty for every other email.
ALTER TABLE emails ADD COLUMN unsubscribe_url TEXT NOT NULL DEFAULT '';
