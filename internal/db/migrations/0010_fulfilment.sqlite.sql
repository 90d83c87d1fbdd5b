-- The back office's order work: shipments, staff refunds and returns.

-- A parcel sent for an order, with its carrier and tracking number.
CREATE TABLE shipments (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    carrier         TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    actor           TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    delivered_at    TIMESTAMP
);
CREATE INDEX shipments_order ON shipments(order_id, id);

-- A return a customer asked for: requested, then approved or rejected by
-- staff, received (restocked or not), refunded.
CREATE TABLE returns (
    id         INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    status     TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'rejected', 'received', 'refunded')),
    reason     TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',   -- staff's words, e.g. why it was rejected
    restocked  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX returns_order ON returns(order_id, id);

-- The units a return sends back, by the order line they were bought on.
CREATE TABLE return_lines (
    return_id  INTEGER NOT NULL REFERENCES returns(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,           -- order_lines.position
    sku        TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (return_id, position)
);

-- Money given back by staff (a refund, a cancellation, a return). The
-- amount is counted in orders.refunded_amount when the row is written, by
-- one conditional update, so concurrent refunds cannot exceed the capture;
-- the provider call follows in a job that sets status.
CREATE TABLE order_refunds (
    id           INTEGER PRIMARY KEY,
    order_id     INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    amount       BIGINT NOT NULL CHECK (amount > 0),
    currency     TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_ref TEXT NOT NULL DEFAULT '',
    return_id    INTEGER REFERENCES returns(id),
    actor        TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX order_refunds_order ON order_refunds(order_id, id);

-- The back office lists orders newest first, filtered by status or market.
CREATE INDEX orders_created ON orders(created_at, id);
CREATE INDEX orders_status_created ON orders(status, created_at);
CREATE INDEX orders_market_created ON orders(market, created_at);
