DROP INDEX orders_created_idx;
DROP INDEX IF EXISTS public.users_email_key;

-- must not fire
DROP INDEX CONCURRENTLY orders_user_idx;
CREATE INDEX CONCURRENTLY tmp_idx ON orders (id);
DROP INDEX tmp_idx;
