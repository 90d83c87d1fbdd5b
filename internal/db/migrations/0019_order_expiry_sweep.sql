-- Unpaid orders expire by a sweep over orders_status_expiry
-- (order.Service.ExpireDue) rather than by a job each. The sweep finds
-- the orders these jobs were queued for, and nothing handles their kind
-- any more.
DELETE FROM jobs WHERE kind = 'order.expire';
