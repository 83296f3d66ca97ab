ALTER TABLE users RENAME COLUMN email TO email_address;

-- must not fire: the column was added in this migration
ALTER TABLE users ADD COLUMN nick text;
ALTER TABLE users RENAME COLUMN nick TO nickname;
