-- UP
-- pgphase:no-transacton
CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
-- DOWN
DROP INDEX CONCURRENTLY users_email_idx;
