-- BACKFILL
UPDATE users SET plan = 'free', active = true, plan = 'pro' WHERE plan IS NULL;
INSERT INTO users (id, email, id) VALUES (1, 'a@example.com', 2);
CREATE TABLE t (id bigint, name text, name text);

-- must not fire: different array elements
UPDATE users SET tags[1] = 'a', tags[2] = 'b' WHERE tags IS NULL;
