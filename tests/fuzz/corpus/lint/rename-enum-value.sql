ALTER TYPE order_status RENAME VALUE 'shipped' TO 'dispatched';

-- must not fire: adding a value, or renaming in a type created here
ALTER TYPE order_status ADD VALUE 'returned';
CREATE TYPE mood AS ENUM ('sad', 'ok');
ALTER TYPE mood RENAME VALUE 'ok' TO 'happy';
