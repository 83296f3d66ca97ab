CREATE INDEX orders_created_idx ON orders (created_at);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- must not fire: CONCURRENTLY, or a table created earlier in the same migration
CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);
CREATE TABLE invoices (id bigint, total numeric);
CREATE INDEX invoices_total_idx ON invoices (total);
