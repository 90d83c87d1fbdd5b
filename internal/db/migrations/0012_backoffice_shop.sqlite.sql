-- Back office: inventory, coupons and customers (issue 5).

-- The low-stock threshold of one SKU in one warehouse: the row is on the
-- alert list while what it can still sell (on_hand - reserved) is at or
-- below it. It is per warehouse, not per SKU, because each warehouse is
-- restocked on its own and a big one runs low at a higher count than a
-- small one. NULL turns the alert off (a warehouse that does not carry the
-- SKU); new and existing rows start at 5.
ALTER TABLE stock ADD COLUMN low_stock_threshold INTEGER DEFAULT 5
    CHECK (low_stock_threshold BETWEEN 0 AND 10000000);

-- The free-text note a staff member adds to an adjustment's reason.
ALTER TABLE stock_adjustments ADD COLUMN note TEXT NOT NULL DEFAULT '';

-- A disabled account cannot sign in and has no sessions; NULL is enabled.
ALTER TABLE customers ADD COLUMN disabled_at TIMESTAMP;

-- For the coupon usage report.
CREATE INDEX orders_coupon ON orders(coupon_code) WHERE coupon_code IS NOT NULL;
