-- pgphase:ignore transaction-control this fixture is about the block
BEGIN;
CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);
-- pgphase:ignore transaction-control this fixture is about the block
COMMIT;

-- must not fire: outside the block
DROP INDEX CONCURRENTLY orders_old_idx;
