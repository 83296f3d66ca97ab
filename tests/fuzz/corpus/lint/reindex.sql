REINDEX INDEX orders_user_idx;
REINDEX TABLE orders;

-- must not fire on PostgreSQL 12+ (the pg11 variant reports it)
REINDEX INDEX CONCURRENTLY orders_user_idx;
