-- UP
ALTER TABLE users ADD COLUMN name text;
ALTER TABEL users ADD COLUMN nickname text;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
CREATE INDEX users_name_idx ON users (name;
DROP TABLE sessions;
-- DOWN
ALTER TABLE users DROP COLUMN name;
