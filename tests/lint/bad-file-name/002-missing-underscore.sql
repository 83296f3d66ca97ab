-- UP
CREATE TABLE users (id bigint);
-- DOWN
DROP TABLE users;
