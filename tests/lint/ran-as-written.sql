CREATE TEMP TABLE tmp (id int, p text);
-- a temporary table, an index dropped and recreated, WITH ... RETURNING
UPDATE users SET plan = tmp.p FROM tmp WHERE tmp.id = users.id;
DROP INDEX users_email;
CREATE INDEX users_email ON users (email, id);
WITH x AS (SELECT 1) DELETE FROM sessions WHERE token IS NULL RETURNING id;

-- must not fire: the safe plan holds, a key unknown offline, as-is, DOWN
ALTER TABLE users ADD COLUMN region text;
UPDATE users SET region = 'eu' WHERE region IS NULL;
ALTER TABLE users DROP COLUMN legacy;
DROP INDEX users_old;
-- pgphase:as-is
DROP INDEX users_zip;
CREATE INDEX users_zip ON users (zip);
-- DOWN
DROP INDEX users_email;
CREATE INDEX users_email ON users (email);
