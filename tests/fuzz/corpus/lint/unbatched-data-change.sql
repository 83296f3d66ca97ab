UPDATE users SET plan = 'free' WHERE plan IS NULL;
DELETE FROM sessions WHERE expires_at < now();

-- must not fire: backfill phase, or a table created in this migration
CREATE TABLE import_buffer (line text);
DELETE FROM import_buffer WHERE line = '';
-- BACKFILL
UPDATE users SET region = 'eu' WHERE region IS NULL;
