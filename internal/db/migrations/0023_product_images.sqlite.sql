-- Product photos staff upload (package catalog; package media makes the
-- renditions). A photo has a name staff choose, unique within its
-- product, and a position: the first is the product's cover. file names
-- the stored renditions and is new on every upload, so that the address
-- of a rendition never changes what it shows and can be cached for good.
CREATE TABLE product_images (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    file       TEXT NOT NULL UNIQUE,
    position   INTEGER NOT NULL,
    alt        TEXT NOT NULL DEFAULT '',
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (product_id, name)
);

-- The encoded renditions of a photo's current file, one a width.
CREATE TABLE image_renditions (
    image_id     INTEGER NOT NULL REFERENCES product_images(id) ON DELETE CASCADE,
    file         TEXT NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (file, width)
);
CREATE INDEX image_renditions_image ON image_renditions(image_id);
