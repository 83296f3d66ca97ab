UPDATE users SET plan = 'free' WHERE plan IS NULL;
DELETE FROM sessions WHERE expires_at < now();
INSERT INTO users_archive (id, name) SELECT id, name FROM users WHERE deleted;
CREATE TABLE import_buffer (line text);
-- a new target does not make a big copy small
INSERT INTO import_buffer SELECT name FROM users;

-- must not fire: backfill phase, a table created in this migration, no source table
DELETE FROM import_buffer WHERE line = '';
INSERT INTO users_archive (id, name) SELECT 0, line FROM import_buffer;
INSERT INTO settings (k, v) SELECT 'k' || g, g FROM generate_series(1, 10) g;
INSERT INTO settings (k, v) VALUES ('a', 1);
-- BACKFILL
UPDATE users SET region = 'eu' WHERE region IS NULL;
INSERT INTO users_archive (id, name) SELECT id, name FROM users WHERE deleted ON CONFLICT DO NOTHING;
