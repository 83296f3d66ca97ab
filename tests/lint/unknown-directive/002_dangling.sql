-- UP
ALTER TABLE users ADD COLUMN nickname text;
-- pgphase:as-is
-- DOWN
ALTER TABLE users DROP COLUMN nickname;
