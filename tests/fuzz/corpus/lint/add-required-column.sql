ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;
ALTER TABLE users
    ADD COLUMN region text,
    ADD COLUMN country text NOT NULL;

-- must not fire: a default, nullable, identity/generated, or a new table
ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';
ALTER TABLE users ADD COLUMN bio text;
CREATE TABLE teams (id bigint);
ALTER TABLE teams ADD COLUMN name text NOT NULL;
