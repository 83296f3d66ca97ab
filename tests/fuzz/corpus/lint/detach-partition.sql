ALTER TABLE measurements DETACH PARTITION measurements_2019;

-- must not fire on PostgreSQL 14+ (the pg13 variant reports it)
ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY;
