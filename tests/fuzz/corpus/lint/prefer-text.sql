CREATE TABLE users (id bigint, email varchar(255), name character varying(100));

-- must not fire: varchar without a length is text
CREATE TABLE notes (id bigint, body text, title varchar);
