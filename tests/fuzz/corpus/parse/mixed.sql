CREATE INDEX CONCURRENTLY i ON t (a);
SELECT $$ x; $$; /* c */ SELECT 'a;b'; -- c
