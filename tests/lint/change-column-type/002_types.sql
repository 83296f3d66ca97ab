-- UP
-- need no rewrite: silent
ALTER TABLE users ALTER COLUMN name TYPE varchar(80);
ALTER TABLE users ALTER COLUMN name TYPE text;
ALTER TABLE users ALTER COLUMN price TYPE numeric(14,2);
ALTER TABLE users ALTER COLUMN addr TYPE inet;
ALTER TABLE users ALTER COLUMN label TYPE varchar;
-- rewrite: reported
ALTER TABLE users ALTER COLUMN id TYPE bigint;
ALTER TABLE users ALTER COLUMN price TYPE numeric(14,4);
ALTER TABLE users ALTER COLUMN score TYPE text USING score::text;
ALTER TABLE users ALTER COLUMN unknown_col TYPE text;
-- DOWN
ALTER TABLE users ALTER COLUMN id TYPE integer;
