ALTER TABLE orders DROP CONSTRAINT orders_user_fk;
ALTER TABLE orders ADD COLUMN note text, DROP CONSTRAINT IF EXISTS orders_amount_check;

-- must not fire: added earlier in this migration
ALTER TABLE orders ADD CONSTRAINT tmp_check CHECK (note <> '') NOT VALID;
ALTER TABLE orders DROP CONSTRAINT tmp_check;
