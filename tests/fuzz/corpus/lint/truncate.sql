TRUNCATE sessions;
TRUNCATE TABLE users, orders CASCADE;

-- must not fire
CREATE TABLE import_buffer (line text);
TRUNCATE import_buffer;
