-- pgphase:no-transaction
-- UP
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id ON orders (user_id);

-- DOWN
DROP INDEX CONCURRENTLY IF EXISTS orders_user_id;
