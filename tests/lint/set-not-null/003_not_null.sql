-- UP
-- proven by the validated CHECK of 001/002 (PostgreSQL 12+): silent on 15, reported on 11
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
-- nothing proves these
ALTER TABLE users ALTER COLUMN name SET NOT NULL;
ALTER TABLE orders ALTER COLUMN email SET NOT NULL;
-- a new column needs no proof
ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';
ALTER TABLE users ALTER COLUMN plan SET NOT NULL;
-- DOWN
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
