V1__x.sql
-- UP
CREATE TABLE {{tables.t}} (a int);
-- EXPAND
-- pgphase:as-is
ALTER TABLE t ADD b int;
-- @UNDO
DROP TABLE t;
