-- BACKFILL
UPDATE users SET active = true;

-- must not fire
UPDATE users SET active = true WHERE active IS NULL;
