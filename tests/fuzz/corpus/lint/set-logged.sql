ALTER TABLE events SET LOGGED;
ALTER TABLE cache SET UNLOGGED;

-- must not fire
CREATE UNLOGGED TABLE import_buffer (line text);
ALTER TABLE import_buffer SET LOGGED;
