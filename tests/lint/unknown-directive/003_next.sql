-- UP
DROP TABLE sessions;
-- DOWN
SELECT 1;
