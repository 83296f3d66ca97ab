ALTER SCHEMA reporting RENAME TO analytics;

-- must not fire
CREATE SCHEMA tmp;
ALTER SCHEMA tmp RENAME TO scratch;
