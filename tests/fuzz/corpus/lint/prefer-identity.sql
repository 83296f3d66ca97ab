-- pgphase:ignore prefer-bigint this fixture is about serial itself
CREATE TABLE a (id serial PRIMARY KEY);
CREATE TABLE b (id bigserial PRIMARY KEY, seq smallserial);

-- must not fire
CREATE TABLE c (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
