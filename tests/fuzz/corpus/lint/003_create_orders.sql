-- UP
CREATE TABLE orders (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id  bigint NOT NULL REFERENCES users (id),
    total    numeric(12,2) NOT NULL
);

-- DOWN
DROP TABLE orders;
