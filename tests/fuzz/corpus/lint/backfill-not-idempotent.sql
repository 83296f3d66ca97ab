-- BACKFILL
UPDATE users SET full_name = first_name || ' ' || last_name WHERE created_at < now();
UPDATE users SET score = score + 1 WHERE active;

-- must not fire: the WHERE tracks the columns being set; DELETE is naturally idempotent
UPDATE users SET full_name = first_name || ' ' || last_name WHERE full_name IS NULL;
DELETE FROM sessions WHERE expires_at < now();
