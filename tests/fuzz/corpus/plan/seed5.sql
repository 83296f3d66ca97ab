ALTER TABLE t ADD COLUMN u uuid NOT NULL DEFAULT gen_random_uuid();
