ALTER TABLE users DROP COLUMN legacy_flag;
ALTER TABLE users ADD COLUMN nickname text, DROP COLUMN IF EXISTS middle_name;

-- must not fire: column added earlier in this migration
ALTER TABLE users ADD COLUMN tmp text;
ALTER TABLE users DROP COLUMN tmp;
