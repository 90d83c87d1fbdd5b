-- The audit log: every change a staff member, API key or the command line
-- makes, with who, when, what, and the thing before and after (JSON).
-- Append-only: the triggers refuse every UPDATE and DELETE, so not even a
-- bug in the store can rewrite history.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('staff', 'apikey', 'cli', 'system')),
    actor_id   BIGINT,
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL,             -- e.g. product.update, order.refund
    subject    TEXT NOT NULL,             -- e.g. product:band-9, order:US-100001
    before     TEXT NOT NULL DEFAULT '',  -- JSON, '' when there was nothing
    after      TEXT NOT NULL DEFAULT '',  -- JSON, '' when nothing is left
    ip         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at, id);
CREATE INDEX audit_log_actor ON audit_log(actor_kind, actor_id, id);
CREATE INDEX audit_log_subject ON audit_log(subject, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
