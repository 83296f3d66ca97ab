VACUUM FULL orders;
VACUUM (FULL, ANALYZE) users, orders;

-- must not fire
VACUUM orders;
VACUUM (ANALYZE) users;
