-- Carts that follow a signed-in customer across devices (cart.Adopt): the
-- customer's open cart in a market is found by customer_id, newest first.
-- Partial, like carts_abandoned: guest carts and checked-out ones, which
-- are most rows, are never looked up this way.
CREATE INDEX carts_customer ON carts(customer_id, market, updated_at) WHERE order_number IS NULL AND customer_id IS NOT NULL;
