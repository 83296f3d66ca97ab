ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE users ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();
ALTER TABLE users ADD COLUMN slug text DEFAULT make_slug(name);

-- must not fire: constant or stable defaults (PostgreSQL 11+ stores them without a rewrite)
ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';
ALTER TABLE users ADD COLUMN created_at timestamptz DEFAULT now();
ALTER TABLE users ADD COLUMN updated_at timestamptz DEFAULT CURRENT_TIMESTAMP;
ALTER TABLE users ADD COLUMN created_in bigint DEFAULT txid_current();
CREATE TABLE api_keys (id bigint);
ALTER TABLE api_keys ADD COLUMN secret uuid DEFAULT gen_random_uuid();
