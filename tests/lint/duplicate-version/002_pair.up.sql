CREATE TABLE teams (id bigint);
