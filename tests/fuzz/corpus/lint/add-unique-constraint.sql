ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);

-- must not fire
ALTER TABLE users ADD CONSTRAINT users_handle_key UNIQUE USING INDEX users_handle_idx;
