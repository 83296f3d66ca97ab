-- UP
CREATE TABLE users (id bigint PRIMARY KEY);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint REFERENCES users,
    shop_id bigint,
    coupon_id bigint,
    FOREIGN KEY (shop_id) REFERENCES shops,
    CONSTRAINT orders_coupon_fk FOREIGN KEY (coupon_id) REFERENCES coupons
);
-- the referencing column is the leading column of the primary key: indexed
CREATE TABLE order_notes (order_id bigint REFERENCES orders, n bigint, PRIMARY KEY (order_id, n));
-- pgphase:ignore fk-without-index payments are only ever looked up by id
CREATE TABLE payments (id bigint PRIMARY KEY, order_id bigint REFERENCES orders);
-- pgphase:ignore fk-without-index stale: 002 indexes the column, so this silences nothing
CREATE TABLE refunds (id bigint PRIMARY KEY, user_id bigint REFERENCES users);
-- DOWN
DROP TABLE refunds;
DROP TABLE payments;
DROP TABLE order_notes;
DROP TABLE orders;
DROP TABLE users;
