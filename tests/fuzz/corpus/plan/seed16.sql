-- pgphase:as-is
CREATE INDEX i ON t (n);
