-- UP
ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;
-- DOWN
SELECT 1;
