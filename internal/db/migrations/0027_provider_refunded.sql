-- The most the payment provider has reported given back of an order's
-- charge, by anyone: the store's own refunds and those made in the
-- provider's dashboard. Kept even while it counts nothing new (the
-- store's own refunds, still pending, account for it), since a refund of
-- the store's that the provider then refuses leaves the dashboard's
-- refund to be counted.
ALTER TABLE orders ADD COLUMN provider_refunded BIGINT NOT NULL DEFAULT 0;
