-- Disputes (chargebacks): a customer asked their bank to take a payment
-- back, which it does unless the shop answers at the payment provider
-- with evidence by due_by. The provider reports them; won and lost are
-- the outcomes. A lost dispute's amount is counted as refunded.
CREATE TABLE order_disputes (
    id          INTEGER PRIMARY KEY,
    order_id    INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    provider    TEXT NOT NULL,
    dispute_ref TEXT NOT NULL,
    amount      BIGINT NOT NULL CHECK (amount > 0),
    currency    TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL CHECK (status IN ('open', 'won', 'lost')),
    due_by      TIMESTAMP,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (provider, dispute_ref)
);
CREATE INDEX order_disputes_order ON order_disputes(order_id, id);
-- The back office counts and lists the open ones.
CREATE INDEX order_disputes_open ON order_disputes(due_by) WHERE status = 'open';

