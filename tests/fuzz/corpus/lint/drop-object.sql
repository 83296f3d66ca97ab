DROP VIEW active_users;
DROP MATERIALIZED VIEW daily_totals;
DROP TYPE order_status;
DROP FUNCTION compute_total(integer);
DROP SEQUENCE invoice_numbers;
DROP DOMAIN email_address;
DROP EXTENSION pg_trgm;
DROP TRIGGER users_audit ON users;

-- must not fire: created earlier in the same migration, or another rule's business
CREATE FUNCTION helper() RETURNS int LANGUAGE sql AS 'SELECT 1';
DROP FUNCTION helper();
CREATE TYPE tmp_kind AS ENUM ('a', 'b');
DROP TYPE tmp_kind;
CREATE VIEW tmp_view AS SELECT 1 AS one;
DROP VIEW tmp_view;
DROP INDEX CONCURRENTLY handled_by_drop_index;
