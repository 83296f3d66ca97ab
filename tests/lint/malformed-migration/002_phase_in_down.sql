-- UP
ALTER TABLE users ADD COLUMN nickname text;
-- DOWN
-- CONTRACT
ALTER TABLE users DROP COLUMN nickname;
