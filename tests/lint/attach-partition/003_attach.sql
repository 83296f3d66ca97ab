-- UP
-- proven by the validated CHECK of 002: silent
ALTER TABLE measurements ATTACH PARTITION measurements_2024
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
-- nothing proves this one's bound
ALTER TABLE measurements ATTACH PARTITION measurements_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
-- a partition created in this migration is empty
CREATE TABLE measurements_2025 (LIKE measurements);
ALTER TABLE measurements ATTACH PARTITION measurements_2025
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
-- DOWN
ALTER TABLE measurements DETACH PARTITION measurements_2025 CONCURRENTLY;
