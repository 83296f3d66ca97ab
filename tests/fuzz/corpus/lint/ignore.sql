-- The ignore directive, on the line before a statement or trailing on its first line.
-- pgphase:ignore drop-table the table was emptied and unused since v41
DROP TABLE legacy_sessions;
DROP TABLE legacy_tokens; -- pgphase:ignore drop-table moved to the archive database
-- pgphase:ignore create-index,prefer-text the table has 12 rows
CREATE INDEX small_idx ON settings (key);
-- only the named rule is silenced: create-index still fires here
-- pgphase:ignore prefer-text not the hazard of this statement
CREATE INDEX other_idx ON settings (value);
-- an ignore covers one statement only
DROP TABLE legacy_events;
-- trailing on the first line of a statement that spans lines
ALTER TABLE users -- pgphase:ignore drop-column the app stopped reading it in v12
    DROP COLUMN legacy_flag;
