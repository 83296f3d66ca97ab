CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
ALTER DOMAIN email ADD CONSTRAINT email_lower CHECK (VALUE = lower(VALUE));

-- must not fire
CREATE DOMAIN label AS text;
