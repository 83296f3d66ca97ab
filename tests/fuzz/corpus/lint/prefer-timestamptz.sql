CREATE TABLE events (id bigint, happened_at timestamp, noted_at timestamp(3) without time zone);

-- must not fire
CREATE TABLE logs (id bigint, at timestamptz, at2 timestamp with time zone, day date);
