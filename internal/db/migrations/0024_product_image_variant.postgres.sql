-- The variant a product photo shows (a band in one colour), if it shows
-- one: the product page shows it when that variant is chosen, and the
-- cart shows it on that variant's line. NULL: the product as a whole.
ALTER TABLE product_images ADD COLUMN sku TEXT;
