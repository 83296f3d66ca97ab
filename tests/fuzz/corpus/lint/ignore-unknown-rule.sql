-- pgphase:ignore drop-tables,drop-table typo in the first id
DROP TABLE legacy_sessions;
