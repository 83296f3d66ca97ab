ALTER TABLE users RENAME TO accounts;
ALTER VIEW active_users RENAME TO current_users;

-- must not fire
CREATE TABLE staging_orders (id bigint);
ALTER TABLE staging_orders RENAME TO new_orders;
