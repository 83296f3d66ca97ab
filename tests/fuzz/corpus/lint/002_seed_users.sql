-- UP
INSERT INTO users (email)
SELECT 'user' || g || '@example.com' FROM generate_series(1, 5000) AS g;

-- DOWN
DELETE FROM users WHERE email LIKE 'user%@example.com';
