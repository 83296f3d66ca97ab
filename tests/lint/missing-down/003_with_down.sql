-- UP
CREATE TABLE orders (id bigint);
-- DOWN
DROP TABLE orders;
