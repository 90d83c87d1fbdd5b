-- Every lookup of orders by email compares lower(email) and is served by
-- orders_email_lower (0005). The plain index on email served none, and
-- every order placed wrote it: on SQLite each index an order touches is a
-- page more in every commit's log.
DROP INDEX orders_email;
