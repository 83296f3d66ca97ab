-- BACKFILL
DELETE FROM sessions;

-- must not fire
DELETE FROM sessions WHERE expires_at < now();
