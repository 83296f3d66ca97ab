20240101_120000_x.sql
-- pgphase:ignore drop-table because
DROP TABLE t;
-- pgphase:batch-size 10
UPDATE t SET a = 1 WHERE a IS NULL;
