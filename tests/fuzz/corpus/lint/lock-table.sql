LOCK TABLE orders;
LOCK TABLE users IN SHARE MODE;

-- must not fire: weak modes do not block the application
LOCK TABLE orders IN ROW EXCLUSIVE MODE;
