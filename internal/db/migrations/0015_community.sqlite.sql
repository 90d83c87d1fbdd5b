-- Community: members' comments and reviews on products, and their
-- moderation (package community).
--
-- Comments and reviews are per product, shared by every market. Their
-- authors are customers, but there is no foreign key to customers: erasing
-- an account must not renumber a thread or fail on the author's posts, so
-- erasure goes through community.EraseCustomer, and a missing author shows
-- as a former member.

-- One row per product with comments or reviews. last_number is the number
-- the product's latest comment took: a post takes last_number + 1 with one
-- UPDATE ... RETURNING, which serialises concurrent posts on this row, so
-- numbers are distinct and consecutive. version grows with every change
-- the storefront shows (post, edit, delete, hide, restore, review, vote),
-- for the product page's cache key.
CREATE TABLE community_threads (
    product_id  INTEGER PRIMARY KEY REFERENCES products(id) ON DELETE CASCADE,
    last_number INTEGER NOT NULL DEFAULT 0 CHECK (last_number >= 0),
    version     BIGINT NOT NULL DEFAULT 0,
    changed_at  TIMESTAMP NOT NULL
);

-- A customer's standing in the community. posts counts their comments and
-- reviews that show on the storefront (neither hidden nor deleted), kept
-- in the transaction of each change. A banned member cannot post.
CREATE TABLE community_members (
    customer_id INTEGER PRIMARY KEY,
    posts       INTEGER NOT NULL DEFAULT 0 CHECK (posts >= 0),
    banned_at   TIMESTAMP,
    ban_reason  TEXT NOT NULL DEFAULT ''
);

-- reply_to is the number (not the id) of the comment answered, in the
-- same product. open_reports counts reports staff have not dealt with:
-- above zero, the comment is in the moderation queue.
CREATE TABLE comments (
    id            INTEGER PRIMARY KEY,
    product_id    INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    number        INTEGER NOT NULL CHECK (number > 0),
    customer_id   INTEGER NOT NULL,
    body          TEXT NOT NULL,
    reply_to      INTEGER,
    created_at    TIMESTAMP NOT NULL,
    edited_at     TIMESTAMP,
    deleted_at    TIMESTAMP,
    hidden_at     TIMESTAMP,
    hidden_reason TEXT NOT NULL DEFAULT '',
    open_reports  INTEGER NOT NULL DEFAULT 0 CHECK (open_reports >= 0),
    UNIQUE (product_id, number)
);
CREATE INDEX comments_customer ON comments(customer_id);
CREATE INDEX comments_reported ON comments(id) WHERE open_reports > 0;

-- One report per member per comment; resolved_at is set when staff hide
-- the comment or dismiss its reports.
CREATE TABLE comment_reports (
    comment_id  INTEGER NOT NULL REFERENCES comments(id) ON DELETE CASCADE,
    customer_id INTEGER NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    PRIMARY KEY (comment_id, customer_id)
);

-- One review per customer per product. verified is decided when it is
-- posted: the customer had a paid order with a variant of the product.
-- moderated_at is set once staff have looked at it: until then it is in
-- the moderation queue (it shows on the storefront meanwhile).
CREATE TABLE reviews (
    id            INTEGER PRIMARY KEY,
    product_id    INTEGER NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    customer_id   INTEGER NOT NULL,
    rating        INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    verified      BOOLEAN NOT NULL DEFAULT FALSE,
    helpful       INTEGER NOT NULL DEFAULT 0 CHECK (helpful >= 0),
    created_at    TIMESTAMP NOT NULL,
    hidden_at     TIMESTAMP,
    hidden_reason TEXT NOT NULL DEFAULT '',
    moderated_at  TIMESTAMP,
    UNIQUE (product_id, customer_id)
);
CREATE INDEX reviews_product ON reviews(product_id, created_at);
CREATE INDEX reviews_customer ON reviews(customer_id);
CREATE INDEX reviews_unmoderated ON reviews(created_at) WHERE moderated_at IS NULL;

-- One "helpful" vote per customer per review.
CREATE TABLE review_votes (
    review_id   INTEGER NOT NULL REFERENCES reviews(id) ON DELETE CASCADE,
    customer_id INTEGER NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (review_id, customer_id)
);

-- The shop's word filter: a post containing one of these words or
-- phrases (whole words, any letter case) is refused. Stored lower case.
CREATE TABLE community_words (
    word       TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL
);
