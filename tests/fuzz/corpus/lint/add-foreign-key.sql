ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);
-- pgphase:ignore fk-without-index the index is created in another fixture
ALTER TABLE orders ADD COLUMN coupon_id bigint REFERENCES coupons;

-- must not fire: NOT VALID, or a table created in this migration
ALTER TABLE orders ADD CONSTRAINT orders_shop_fk FOREIGN KEY (shop_id) REFERENCES shops NOT VALID;
CREATE TABLE refunds (id bigint, order_id bigint);
ALTER TABLE refunds ADD FOREIGN KEY (order_id) REFERENCES orders;
CREATE INDEX CONCURRENTLY ON orders (user_id);
CREATE INDEX CONCURRENTLY ON orders (shop_id);
CREATE INDEX ON refunds (order_id);
