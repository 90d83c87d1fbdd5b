-- Flash sales: a fixed quantity of one SKU at a special price in one
-- market, claimed by signed-in customers in a time window.
--
-- The sale's units are set aside when it is created: one reservation
-- owned by "flashsale:ID" (the pool) holds them in one warehouse, so that
-- the rest of the store cannot sell them. A claim takes units from the
-- sale's counter only (claimed); checkout moves them from the pool to the
-- order's own reservation, and an unpaid order gives them back.
--
-- claimed counts the units out of the pool now (held by live, ordered or
-- paid claims); paid those sold; released those given back over time.
CREATE TABLE flash_sales (
    id                     INTEGER PRIMARY KEY,
    market                 TEXT NOT NULL REFERENCES markets(code),
    sku                    TEXT NOT NULL REFERENCES variants(sku),
    warehouse              TEXT NOT NULL,
    title                  TEXT NOT NULL DEFAULT '',
    price                  BIGINT NOT NULL CHECK (price > 0),
    currency               TEXT NOT NULL,
    quantity               INTEGER NOT NULL CHECK (quantity > 0),
    per_customer_limit     INTEGER NOT NULL CHECK (per_customer_limit > 0),
    starts_at              TIMESTAMP NOT NULL,
    ends_at                TIMESTAMP NOT NULL,
    -- Set when only customers who registered beforehand may claim;
    -- registration is open until then.
    registration_closes_at TIMESTAMP,
    paused                 BOOLEAN NOT NULL DEFAULT FALSE,
    ended_at               TIMESTAMP,
    claimed                INTEGER NOT NULL DEFAULT 0,
    paid                   INTEGER NOT NULL DEFAULT 0,
    released               INTEGER NOT NULL DEFAULT 0,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK (claimed >= 0 AND claimed <= quantity),
    CHECK (paid >= 0 AND paid <= claimed),
    CHECK (released >= 0)
);
CREATE INDEX flash_sales_market ON flash_sales(market, ends_at);

CREATE TABLE flash_sale_registrations (
    sale_id     INTEGER NOT NULL REFERENCES flash_sales(id),
    customer_id INTEGER NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (sale_id, customer_id)
);

-- Units each customer holds or bought in a sale, against its
-- per-customer limit; a released claim gives its units back.
CREATE TABLE flash_sale_holders (
    sale_id     INTEGER NOT NULL REFERENCES flash_sales(id),
    customer_id INTEGER NOT NULL,
    units       INTEGER NOT NULL CHECK (units >= 0),
    PRIMARY KEY (sale_id, customer_id)
);

-- state: live (in its cart, until expires_at), ordered (checked out; the
-- order's payment window decides), paid, released (back in the pool).
CREATE TABLE flash_sale_claims (
    id           INTEGER PRIMARY KEY,
    sale_id      INTEGER NOT NULL REFERENCES flash_sales(id),
    customer_id  INTEGER NOT NULL,
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    state        TEXT NOT NULL CHECK (state IN ('live', 'ordered', 'paid', 'released')),
    cart_id      TEXT NOT NULL UNIQUE,
    order_number TEXT,
    expires_at   TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE INDEX flash_sale_claims_live ON flash_sale_claims(expires_at) WHERE state = 'live';
CREATE INDEX flash_sale_claims_order ON flash_sale_claims(order_number) WHERE order_number IS NOT NULL;
CREATE INDEX flash_sale_claims_customer ON flash_sale_claims(sale_id, customer_id);
