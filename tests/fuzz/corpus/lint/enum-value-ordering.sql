ALTER TYPE order_status ADD VALUE 'refunded';
UPDATE orders SET status = 'refunded' WHERE refund_id IS NOT NULL AND status <> 'refunded';

-- must not fire: values that existed before
UPDATE orders SET status = 'shipped' WHERE shipped_at IS NOT NULL AND status = 'paid';
