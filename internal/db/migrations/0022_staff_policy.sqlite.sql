-- The back office's rules for all staff, one row. require_two_step: every
-- member must have two-step sign-in on (migration 0021); one who has not
-- is sent to set it up before anything else.
CREATE TABLE staff_policy (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    require_two_step BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at       TIMESTAMP NOT NULL
);
