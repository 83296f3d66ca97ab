-- UP
SELECT * FROM {{tables.users}};
SELECT * FROM {{nope}};
-- DOWN
SELECT 1;
