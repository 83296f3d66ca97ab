CREATE TABLE customer_subscription_renewal_notification_preferences_by_region_and_channel (id bigint);
ALTER TABLE users ADD COLUMN "a column name that is far too long to survive the 63 byte identifier limit" text;

-- must not fire: exactly 63 bytes
CREATE TABLE t23456789012345678901234567890123456789012345678901234567890123 (id bigint);
