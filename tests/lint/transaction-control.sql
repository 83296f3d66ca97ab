BEGIN;
ALTER TABLE users ADD COLUMN nickname text;
SAVEPOINT before_fill;
ALTER TABLE users ADD COLUMN handle text;
RELEASE SAVEPOINT before_fill;
COMMIT;
