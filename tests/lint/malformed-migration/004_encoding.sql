-- UP
SELECT 'café';
-- DOWN
SELECT 1;
