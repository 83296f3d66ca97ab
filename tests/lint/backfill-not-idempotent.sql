-- BACKFILL
UPDATE users SET full_name = first_name || ' ' || last_name WHERE created_at < now();
UPDATE users SET score = score + 1 WHERE active;
INSERT INTO users_archive (id, name) SELECT id, name FROM users WHERE deleted;
INSERT INTO users_archive (id, name) SELECT id, count(*) FROM users GROUP BY id ON CONFLICT DO NOTHING;

-- must not fire: the WHERE tracks the columns being set; DELETE is naturally idempotent
UPDATE users SET full_name = first_name || ' ' || last_name WHERE full_name IS NULL;
DELETE FROM sessions WHERE expires_at < now();
INSERT INTO users_archive (id, name) SELECT id, name FROM users WHERE deleted ON CONFLICT (id) DO NOTHING;
INSERT INTO users_archive (id, name) SELECT u.id, u.name FROM users u
  WHERE u.deleted AND NOT EXISTS (SELECT 1 FROM users_archive a WHERE a.id = u.id);
