ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&);

-- must not fire: declared with the table
CREATE TABLE rooms (id bigint, during tstzrange, EXCLUDE USING gist (id WITH =, during WITH &&));
