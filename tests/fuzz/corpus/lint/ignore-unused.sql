-- pgphase:ignore create-index the statement is already CONCURRENTLY
CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);
