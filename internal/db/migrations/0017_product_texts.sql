-- Product texts in languages other than English, the catalog's own: the
-- name, description, specifications and variant names a storefront in that
-- language shows
-- (the cn store reads in Chinese). language is a BCP 47 tag as the
-- storefront's message catalogs name their languages ("zh-Hans"); a
-- missing row, or an empty field, shows the English text. specs is a JSON
-- list like products.specs (an empty one shows the English list); variants
-- a JSON object of SKU to variant name.
CREATE TABLE product_texts (
    product_id  BIGINT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    language    TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    specs       TEXT NOT NULL DEFAULT '[]',
    variants    TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (product_id, language)
);
