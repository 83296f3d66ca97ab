BEGIN;
CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);
COMMIT;

-- must not fire: outside the block
DROP INDEX CONCURRENTLY orders_old_idx;
