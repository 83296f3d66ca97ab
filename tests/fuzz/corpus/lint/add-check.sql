ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0);

-- must not fire
ALTER TABLE orders ADD CONSTRAINT orders_qty_positive CHECK (qty > 0) NOT VALID;
CREATE TABLE coupons (id bigint, pct int);
ALTER TABLE coupons ADD CONSTRAINT pct_range CHECK (pct BETWEEN 0 AND 100);
