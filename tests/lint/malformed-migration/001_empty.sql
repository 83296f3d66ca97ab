-- UP
-- nothing here yet
-- DOWN
SELECT 1;
