DROP SCHEMA reporting;
DROP SCHEMA staging CASCADE;

-- must not fire
CREATE SCHEMA scratch;
DROP SCHEMA scratch;
