ALTER TABLE users ADD COLUMN handle text UNIQUE;

-- must not fire
ALTER TABLE users ADD COLUMN nickname text;
