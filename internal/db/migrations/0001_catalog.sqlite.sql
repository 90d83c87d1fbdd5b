-- Markets, catalog and stock: the foundation of the store.

CREATE TABLE markets (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    currency      TEXT NOT NULL,
    country_codes TEXT NOT NULL,            -- comma separated ISO 3166-1 alpha-2
    tax_included  BOOLEAN NOT NULL,
    locale        TEXT NOT NULL,
    position      INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE certification_schemes (
    code      TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    authority TEXT NOT NULL
);

CREATE TABLE categories (
    slug     TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    radio    BOOLEAN NOT NULL DEFAULT FALSE,
    position INTEGER NOT NULL DEFAULT 0
);

-- Which certification schemes a market requires for a category.
CREATE TABLE certification_rules (
    market   TEXT NOT NULL REFERENCES markets(code),
    category TEXT NOT NULL REFERENCES categories(slug),
    scheme   TEXT NOT NULL REFERENCES certification_schemes(code),
    PRIMARY KEY (market, category, scheme)
);

CREATE TABLE warehouses (
    code   TEXT PRIMARY KEY,
    market TEXT NOT NULL REFERENCES markets(code),
    name   TEXT NOT NULL
);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL REFERENCES categories(slug),
    description TEXT NOT NULL DEFAULT '',
    specs       TEXT NOT NULL DEFAULT '[]',  -- JSON [[key, value], ...]
    image       TEXT NOT NULL DEFAULT '',
    featured    BOOLEAN NOT NULL DEFAULT FALSE,
    -- Most units of one SKU a cart may hold; NULL means the store default.
    purchase_limit INTEGER CHECK (purchase_limit BETWEEN 1 AND 1000),
    search_text TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE variants (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    sku        TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    options    TEXT NOT NULL DEFAULT '[]',   -- JSON [[key, value], ...]
    weight_g   INTEGER NOT NULL DEFAULT 0 CHECK (weight_g >= 0),
    position   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX variants_product ON variants(product_id, position);

CREATE TABLE prices (
    sku      TEXT NOT NULL REFERENCES variants(sku) ON DELETE CASCADE ON UPDATE CASCADE,
    market   TEXT NOT NULL REFERENCES markets(code),
    amount   BIGINT NOT NULL CHECK (amount >= 0),
    currency TEXT NOT NULL,
    PRIMARY KEY (sku, market)
);

CREATE TABLE certifications (
    id           INTEGER PRIMARY KEY,
    product_id   INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    market       TEXT NOT NULL REFERENCES markets(code),
    scheme       TEXT NOT NULL REFERENCES certification_schemes(code),
    reference    TEXT NOT NULL,
    valid_from   TIMESTAMP NOT NULL,
    valid_until  TIMESTAMP,
    document_url TEXT NOT NULL DEFAULT '',
    UNIQUE (product_id, market, scheme, reference)
);

CREATE TABLE listings (
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    market     TEXT NOT NULL REFERENCES markets(code),
    listed     BOOLEAN NOT NULL,
    launch_at  TIMESTAMP,
    PRIMARY KEY (product_id, market)
);

CREATE TABLE resellers (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    market     TEXT NOT NULL REFERENCES markets(code),
    name       TEXT NOT NULL,
    url        TEXT NOT NULL,
    position   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX resellers_product ON resellers(product_id, market, position);

-- on_hand counts the units in the warehouse; reserved the units promised
-- to live reservations (unpaid orders, flash-sale claims). What can still be
-- sold is on_hand - reserved, and the constraints make it impossible for any
-- statement, however concurrent, to promise a unit that is not there.
CREATE TABLE stock (
    sku       TEXT NOT NULL REFERENCES variants(sku) ON DELETE CASCADE ON UPDATE CASCADE,
    warehouse TEXT NOT NULL REFERENCES warehouses(code),
    on_hand   INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved  INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (sku, warehouse),
    CHECK (reserved <= on_hand)
);

-- Bumped by every catalog write, so that in-memory catalog snapshots in any
-- process notice the change.
CREATE TABLE catalog_revision (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO catalog_revision (id, revision) VALUES (1, 1);

-- Full-text search over name (weighted) and the rest of a product's words.
CREATE VIRTUAL TABLE products_fts USING fts5(
    name, search_text,
    content='products', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2',
    prefix='1 2 3 4'  -- shoppers type the start of words: index prefixes
);
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts(rowid, name, search_text) VALUES (new.id, new.name, new.search_text);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    INSERT INTO products_fts(products_fts, rowid, name, search_text) VALUES ('delete', old.id, old.name, old.search_text);
END;
CREATE TRIGGER products_fts_update AFTER UPDATE OF name, search_text ON products BEGIN
    INSERT INTO products_fts(products_fts, rowid, name, search_text) VALUES ('delete', old.id, old.name, old.search_text);
    INSERT INTO products_fts(rowid, name, search_text) VALUES (new.id, new.name, new.search_text);
END;
