-- The regions a shipping method is offered to (US state codes, space
-- separated, such as "AK HI" for a method of its own for Alaska and
-- Hawaii); empty: the whole market.
ALTER TABLE shipping_methods ADD COLUMN regions TEXT NOT NULL DEFAULT '';
