-- UP
ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;
-- DOWN
ALTER TABLE users DROP CONSTRAINT users_email_not_null;
