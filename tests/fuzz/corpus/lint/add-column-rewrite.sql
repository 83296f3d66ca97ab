-- pgphase:ignore prefer-identity the fixture needs a serial
ALTER TABLE events ADD COLUMN seq bigserial;
ALTER TABLE events ADD COLUMN num bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE events ADD COLUMN total numeric GENERATED ALWAYS AS (price * qty) STORED;

-- fast defaults from PostgreSQL 11: reported only by the pg10 variant
ALTER TABLE events ADD COLUMN kind text DEFAULT 'click';
-- must not fire on any version
ALTER TABLE events ADD COLUMN note text DEFAULT NULL;
ALTER TABLE events ADD COLUMN extra text;
