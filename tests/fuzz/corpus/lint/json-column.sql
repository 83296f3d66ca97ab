CREATE TABLE events (id bigint, payload json, meta jsonb);
ALTER TABLE events ADD COLUMN extra json;
ALTER TABLE events ALTER COLUMN meta TYPE json;

-- must not fire
ALTER TABLE events ADD COLUMN tags jsonb;
