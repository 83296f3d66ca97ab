-- UP
CREATE TABLE audit (id bigint);
-- DOWN
