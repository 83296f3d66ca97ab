-- UP
ALTER TABLE users
    -- pgphase:as-is
    ADD COLUMN nickname text;
-- DOWN
ALTER TABLE users DROP COLUMN nickname;
