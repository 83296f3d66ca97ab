ALTER TABLE users ALTER COLUMN email DROP NOT NULL;

-- must not fire: column added in this migration
ALTER TABLE users ADD COLUMN fresh text;
ALTER TABLE users ALTER COLUMN fresh DROP NOT NULL;
