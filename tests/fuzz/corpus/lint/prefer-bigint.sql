CREATE TABLE a (id integer PRIMARY KEY);
CREATE TABLE b (id int GENERATED ALWAYS AS IDENTITY, name text);
CREATE TABLE c (id smallint, tenant int, PRIMARY KEY (tenant, id));

-- must not fire: bigint keys, and int columns that are not keys
CREATE TABLE d (id bigint PRIMARY KEY, qty integer);
