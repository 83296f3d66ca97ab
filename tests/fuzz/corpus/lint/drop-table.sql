-- drop-table: dropping a table that existed before this migration
DROP TABLE orders;
DROP TABLE IF EXISTS audit_log CASCADE;

-- must not fire: a table created earlier in the same migration
CREATE TABLE scratch (id bigint);
DROP TABLE scratch;
