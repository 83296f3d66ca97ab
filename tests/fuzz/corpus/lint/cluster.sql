CLUSTER orders USING orders_created_idx;

-- must not fire
CREATE TABLE archive (id bigint);
CREATE INDEX archive_id_idx ON archive (id);
CLUSTER archive USING archive_id_idx;
