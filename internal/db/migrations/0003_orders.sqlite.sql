-- Reservations, carts, checkout, orders, payments, jobs, email and
-- idempotency keys: the money path.

-- Secrets the store makes for itself on first start (token and webhook
-- signing keys), shared by every instance through the database.
CREATE TABLE secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Every staff change of stock, with why.
CREATE TABLE stock_adjustments (
    id         INTEGER PRIMARY KEY,
    sku        TEXT NOT NULL,
    warehouse  TEXT NOT NULL,
    before     INTEGER NOT NULL,
    after      INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX stock_adjustments_sku ON stock_adjustments(sku, created_at);

-- A promise of units to an owner ("order:42", "claim:7") until expires_at.
-- state: live (counted in stock.reserved), committed (sold: taken off
-- on_hand), released (given back).
CREATE TABLE reservations (
    id         INTEGER PRIMARY KEY,
    owner      TEXT NOT NULL,
    sku        TEXT NOT NULL,
    warehouse  TEXT NOT NULL,
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    state      TEXT NOT NULL CHECK (state IN ('live', 'committed', 'released')),
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    FOREIGN KEY (sku, warehouse) REFERENCES stock(sku, warehouse)
);
CREATE INDEX reservations_owner ON reservations(owner);
CREATE INDEX reservations_live_expiry ON reservations(expires_at) WHERE state = 'live';

CREATE TABLE carts (
    id           TEXT PRIMARY KEY,
    market       TEXT NOT NULL REFERENCES markets(code),
    customer_id  INTEGER,
    order_number TEXT,                    -- set once, by the checkout that turned it into an order
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);

-- For the sweep of abandoned carts.
CREATE INDEX carts_abandoned ON carts(updated_at) WHERE order_number IS NULL;

CREATE TABLE cart_lines (
    cart_id        TEXT NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
    sku            TEXT NOT NULL REFERENCES variants(sku),
    quantity       INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    -- What the shopper last saw, so a view can say what changed since.
    seen_price     BIGINT,
    seen_state     TEXT NOT NULL DEFAULT '',
    position       INTEGER NOT NULL,
    PRIMARY KEY (cart_id, sku)
);

-- Shipping methods per market. kind flat: price, free at or over free_over
-- when set; kind weight: price + per_kg for each started kilogram.
CREATE TABLE shipping_methods (
    market    TEXT NOT NULL REFERENCES markets(code),
    code      TEXT NOT NULL,
    name      TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('flat', 'weight')),
    price     BIGINT NOT NULL CHECK (price >= 0),
    free_over BIGINT CHECK (free_over >= 0),
    per_kg    BIGINT NOT NULL DEFAULT 0 CHECK (per_kg >= 0),
    days      TEXT NOT NULL DEFAULT '',
    position  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (market, code)
);

-- Tax rates per market and region ('' for the whole market), in units of
-- 0.001 percent: 6625 is 6.625%.
CREATE TABLE tax_rates (
    market       TEXT NOT NULL REFERENCES markets(code),
    region       TEXT NOT NULL,
    name         TEXT NOT NULL,
    rate_pcm     INTEGER NOT NULL CHECK (rate_pcm BETWEEN 0 AND 100000),
    tax_shipping BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (market, region)
);

CREATE TABLE coupons (
    code               TEXT PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('percent', 'fixed')),
    percent            INTEGER CHECK (percent BETWEEN 1 AND 100),
    amount             BIGINT CHECK (amount > 0),
    currency           TEXT,
    market             TEXT REFERENCES markets(code),
    min_subtotal       BIGINT NOT NULL DEFAULT 0 CHECK (min_subtotal >= 0),
    starts_at          TIMESTAMP NOT NULL,
    ends_at            TIMESTAMP,
    max_uses           INTEGER CHECK (max_uses > 0),
    max_uses_per_email INTEGER CHECK (max_uses_per_email > 0),
    used               INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    created_at         TIMESTAMP NOT NULL,
    CHECK (max_uses IS NULL OR used <= max_uses),
    CHECK ((kind = 'percent' AND percent IS NOT NULL) OR (kind = 'fixed' AND amount IS NOT NULL AND currency IS NOT NULL))
);

CREATE TABLE orders (
    id               INTEGER PRIMARY KEY,
    number           TEXT NOT NULL UNIQUE,
    market           TEXT NOT NULL REFERENCES markets(code),
    cart_id          TEXT UNIQUE,
    customer_id      INTEGER,
    email            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending_payment', 'paid', 'fulfilled', 'delivered', 'cancelled', 'refunded', 'partially_refunded')),
    currency         TEXT NOT NULL,
    subtotal         BIGINT NOT NULL CHECK (subtotal >= 0),
    discount         BIGINT NOT NULL CHECK (discount >= 0),
    shipping         BIGINT NOT NULL CHECK (shipping >= 0),
    tax              BIGINT NOT NULL CHECK (tax >= 0),
    total            BIGINT NOT NULL CHECK (total >= 0),
    tax_included     BOOLEAN NOT NULL,
    coupon_code      TEXT,
    shipping_method  TEXT NOT NULL,
    shipping_name    TEXT NOT NULL,
    ship_name        TEXT NOT NULL,
    ship_line1       TEXT NOT NULL,
    ship_line2       TEXT NOT NULL,
    ship_city        TEXT NOT NULL,
    ship_region      TEXT NOT NULL,
    ship_postal_code TEXT NOT NULL,
    ship_country     TEXT NOT NULL,
    payment_provider TEXT NOT NULL,
    payment_status   TEXT NOT NULL,
    payment_session  TEXT NOT NULL DEFAULT '',
    payment_url      TEXT NOT NULL DEFAULT '',
    paid_amount      BIGINT NOT NULL DEFAULT 0 CHECK (paid_amount >= 0),
    refunded_amount  BIGINT NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    expires_at       TIMESTAMP,
    paid_at          TIMESTAMP,
    cancelled_at     TIMESTAMP,
    cancel_reason    TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    CHECK (refunded_amount <= paid_amount),
    CHECK (total = subtotal - discount + shipping + (CASE WHEN tax_included THEN 0 ELSE tax END))
);
CREATE INDEX orders_status_expiry ON orders(expires_at) WHERE status = 'pending_payment';
CREATE INDEX orders_email ON orders(email);

CREATE TABLE order_lines (
    order_id     INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    sku          TEXT NOT NULL,
    name         TEXT NOT NULL,
    variant_name TEXT NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    unit_price   BIGINT NOT NULL CHECK (unit_price >= 0),
    total        BIGINT NOT NULL CHECK (total >= 0),
    tax          BIGINT NOT NULL DEFAULT 0 CHECK (tax >= 0),
    PRIMARY KEY (order_id, position)
);

CREATE TABLE coupon_redemptions (
    id         INTEGER PRIMARY KEY,
    code       TEXT NOT NULL REFERENCES coupons(code),
    order_id   INTEGER NOT NULL REFERENCES orders(id),
    email      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX coupon_redemptions_email ON coupon_redemptions(code, email);

-- The timeline of an order: placed, paid, emailed, cancelled, ...
CREATE TABLE order_events (
    id         INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX order_events_order ON order_events(order_id, id);

-- Money movements with a provider: charges and refunds.
CREATE TABLE payments (
    id              INTEGER PRIMARY KEY,
    order_id        INTEGER NOT NULL REFERENCES orders(id),
    provider        TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('charge', 'refund')),
    provider_ref    TEXT NOT NULL DEFAULT '',
    amount          BIGINT NOT NULL CHECK (amount > 0),
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX payments_order ON payments(order_id);

-- Webhook events already processed, so a redelivered event does nothing.
CREATE TABLE payment_events (
    provider    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- The built-in test provider's own records, kept apart as a real
-- provider's would be: the store only learns of them by webhook or by
-- asking the provider.
CREATE TABLE test_provider_sessions (
    id         TEXT PRIMARY KEY,
    reference  TEXT NOT NULL,             -- the order number
    amount     BIGINT NOT NULL,
    currency   TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('open', 'succeeded', 'expired')),
    charge_id  TEXT NOT NULL DEFAULT '',
    refunded   BIGINT NOT NULL DEFAULT 0,
    declines   INTEGER NOT NULL DEFAULT 0,
    return_url TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE test_provider_refunds (
    id              INTEGER PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES test_provider_sessions(id),
    amount          BIGINT NOT NULL CHECK (amount > 0),
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMP NOT NULL
);

-- Durable jobs: enqueued in the transaction of the change that needs them,
-- run at least once by any instance, retried with backoff.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    unique_key   TEXT UNIQUE,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    run_at       TIMESTAMP NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 10,
    locked_until TIMESTAMP,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX jobs_due ON jobs(run_at) WHERE state IN ('pending', 'running');

-- Email: every message the store means to send, sent or not.
CREATE TABLE emails (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    to_address TEXT NOT NULL,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT NOT NULL,
    order_id   INTEGER REFERENCES orders(id),
    unique_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    sent_at    TIMESTAMP,
    last_error TEXT NOT NULL DEFAULT ''
);

-- Idempotency-Key: the first answer to a creating request, replayed to
-- the same caller with the same key for 24 hours.
CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('running', 'done')),
    status       INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys(expires_at);
