/*
 * One fixture per strategy, shared by tests/check_plan.c (the exact SQL planned offline)
 * and tests/check_strategies.c (running it on a real server: catalog end state, crash
 * resume).  Migration 001 creates the tables (so offline plans know keys and column types),
 * `data` fills them before 002, and 002 holds the statement the strategy rewrites.
 *
 * plan: the expected steps of 002 as "phase txn strategy | sql", in plan order.
 * check: a query over the catalog (and data) after a complete run; expect is its value.
 */
#ifndef PGPHASE_TEST_STRATEGY_FIXTURES_H
#define PGPHASE_TEST_STRATEGY_FIXTURES_H

#define FX_TABLE "CREATE TABLE t (id bigint PRIMARY KEY, a text, n int);\n"
#define FX_ROWS "INSERT INTO t SELECT g, 'a' || g, g FROM generate_series(1, 3000) g"

struct strat_fixture {
	const char *name;   /* strategy name */
	const char *create; /* 001 */
	const char *data;   /* run between 001 and 002 */
	const char *change; /* 002 */
	const char *plan[12];
	const char *check;
	const char *expect;
};

static const struct strat_fixture strat_fixtures[] = {
	{ "create-index-concurrently", FX_TABLE, FX_ROWS, "CREATE INDEX t_a_idx ON t (a);\n",
	  { "expand none create-index-concurrently | CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t USING btree (a)" },
	  "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_a_idx'::regclass", "t" },
	{ "drop-index-concurrently", FX_TABLE "CREATE INDEX t_a_idx ON t (a);\n", FX_ROWS,
	  "DROP INDEX t_a_idx;\n",
	  { "contract none drop-index-concurrently | DROP INDEX CONCURRENTLY IF EXISTS t_a_idx" },
	  "SELECT count(*) FROM pg_class WHERE relname = 't_a_idx'", "0" },
	{ "add-foreign-key-not-valid",
	  "CREATE TABLE p (id int PRIMARY KEY);\n" FX_TABLE,
	  "INSERT INTO p SELECT g FROM generate_series(1, 3000) g; " FX_ROWS,
	  "ALTER TABLE t ADD FOREIGN KEY (n) REFERENCES p (id);\n",
	  { "expand txn add-foreign-key-not-valid | ALTER TABLE t ADD CONSTRAINT t_n_fkey FOREIGN KEY (n) REFERENCES p (id) NOT VALID",
	    "backfill own add-foreign-key-not-valid | ALTER TABLE t VALIDATE CONSTRAINT t_n_fkey" },
	  "SELECT convalidated FROM pg_constraint WHERE conname = 't_n_fkey'", "t" },
	{ "add-check-not-valid", FX_TABLE, FX_ROWS, "ALTER TABLE t ADD CHECK (n >= 0);\n",
	  { "expand txn add-check-not-valid | ALTER TABLE t ADD CONSTRAINT t_n_check CHECK (n >= 0) NOT VALID",
	    "backfill own add-check-not-valid | ALTER TABLE t VALIDATE CONSTRAINT t_n_check" },
	  "SELECT convalidated FROM pg_constraint WHERE conname = 't_n_check'", "t" },
	{ "set-not-null-via-check", FX_TABLE, FX_ROWS, "ALTER TABLE t ALTER COLUMN a SET NOT NULL;\n",
	  { "expand txn set-not-null-via-check | ALTER TABLE t ADD CONSTRAINT t_a_not_null CHECK (a IS NOT NULL) NOT VALID",
	    "backfill none set-not-null-via-check | SELECT count(*) FROM t WHERE a IS NULL",
	    "backfill own set-not-null-via-check | ALTER TABLE t VALIDATE CONSTRAINT t_a_not_null",
	    "contract own set-not-null-via-check | ALTER TABLE t ALTER COLUMN a SET NOT NULL;\nALTER TABLE t DROP CONSTRAINT IF EXISTS t_a_not_null" },
	  "SELECT attnotnull::text || (SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass"
	  " AND contype = 'c') FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'a'", "true0" },
	{ "add-required-column", FX_TABLE, FX_ROWS,
	  "ALTER TABLE t ADD COLUMN r int NOT NULL;\n-- BACKFILL\nUPDATE t SET r = n WHERE r IS NULL;\n",
	  { "expand txn add-required-column | ALTER TABLE t ADD COLUMN r int",
	    "backfill none data-change-to-backfill | key (id bigint) | UPDATE t SET r = n WHERE r IS NULL",
	    "contract none add-required-column | SELECT count(*) FROM t WHERE r IS NULL",
	    "contract own add-required-column | ALTER TABLE t ADD CONSTRAINT t_r_not_null CHECK (r IS NOT NULL) NOT VALID",
	    "contract own add-required-column | ALTER TABLE t VALIDATE CONSTRAINT t_r_not_null",
	    "contract own add-required-column | ALTER TABLE t ALTER COLUMN r SET NOT NULL;\nALTER TABLE t DROP CONSTRAINT IF EXISTS t_r_not_null" },
	  "SELECT attnotnull::text || (SELECT sum(r) FROM t) FROM pg_attribute"
	  " WHERE attrelid = 't'::regclass AND attname = 'r'", "true4501500" },
	{ "add-column-volatile-default", FX_TABLE, FX_ROWS,
	  "ALTER TABLE t ADD COLUMN u uuid NOT NULL DEFAULT gen_random_uuid();\n",
	  { "expand txn add-column-volatile-default | ALTER TABLE t ADD COLUMN u uuid",
	    "expand txn add-column-volatile-default | ALTER TABLE t ALTER COLUMN u SET DEFAULT gen_random_uuid()",
	    "backfill none add-column-volatile-default | key (id bigint) | UPDATE t SET u = DEFAULT WHERE u IS NULL",
	    "contract none add-column-volatile-default | SELECT count(*) FROM t WHERE u IS NULL",
	    "contract own add-column-volatile-default | ALTER TABLE t ADD CONSTRAINT t_u_not_null CHECK (u IS NOT NULL) NOT VALID",
	    "contract own add-column-volatile-default | ALTER TABLE t VALIDATE CONSTRAINT t_u_not_null",
	    "contract own add-column-volatile-default | ALTER TABLE t ALTER COLUMN u SET NOT NULL;\nALTER TABLE t DROP CONSTRAINT IF EXISTS t_u_not_null" },
	  "SELECT attnotnull::text || (SELECT count(DISTINCT u) FROM t) FROM pg_attribute"
	  " WHERE attrelid = 't'::regclass AND attname = 'u'", "true3000" },
	{ "add-unique-using-index", FX_TABLE, FX_ROWS, "ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE (a);\n",
	  { "expand none add-unique-using-index | CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_a_key ON t USING btree (a)",
	    "expand txn add-unique-using-index | ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE USING INDEX t_a_key" },
	  "SELECT c.contype::text || i.indisvalid FROM pg_constraint c JOIN pg_index i"
	  " ON i.indexrelid = c.conindid WHERE c.conname = 't_a_key'", "utrue" },
	{ "add-unique-using-index", "CREATE TABLE k (id int, v text);\n",
	  "INSERT INTO k SELECT g, 'v' || g FROM generate_series(1, 3000) g",
	  "ALTER TABLE k ADD PRIMARY KEY (id);\n",
	  { "expand none add-unique-using-index | CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS k_pkey ON k USING btree (id)",
	    "expand txn add-unique-using-index | ALTER TABLE k ADD CONSTRAINT k_id_not_null CHECK (id IS NOT NULL) NOT VALID",
	    "backfill none add-unique-using-index | SELECT count(*) FROM k WHERE id IS NULL",
	    "backfill own add-unique-using-index | ALTER TABLE k VALIDATE CONSTRAINT k_id_not_null",
	    "contract own add-unique-using-index | ALTER TABLE k ALTER COLUMN id SET NOT NULL;\nALTER TABLE k DROP CONSTRAINT IF EXISTS k_id_not_null",
	    "contract own add-unique-using-index | ALTER TABLE k ADD CONSTRAINT k_pkey PRIMARY KEY USING INDEX k_pkey" },
	  "SELECT string_agg(contype::text, ',') FROM pg_constraint WHERE conrelid = 'k'::regclass", "p" },
	{ "defer-destructive-to-contract", FX_TABLE, FX_ROWS, "ALTER TABLE t DROP COLUMN n;\n",
	  { "contract txn defer-destructive-to-contract | ALTER TABLE t DROP COLUMN n" },
	  "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'n'", "0" },
	{ "rename-column-via-sync-trigger", FX_TABLE, FX_ROWS, "ALTER TABLE t RENAME COLUMN a TO b;\n",
	  { "expand txn rename-column-via-sync-trigger | ALTER TABLE t ADD COLUMN b text",
	    "expand txn rename-column-via-sync-trigger | CREATE FUNCTION t_a_pgphase_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN  IF TG_OP = 'INSERT' THEN   IF NEW.\"b\" IS NULL THEN NEW.\"b\" := NEW.\"a\"; ELSE NEW.\"a\" := NEW.\"b\"; END IF;  ELSIF NEW.\"b\" IS DISTINCT FROM OLD.\"b\" THEN NEW.\"a\" := NEW.\"b\";  ELSE NEW.\"b\" := NEW.\"a\";  END IF;  RETURN NEW; END $$;\nCREATE TRIGGER t_a_pgphase_sync BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION t_a_pgphase_sync()",
	    "backfill none rename-column-via-sync-trigger | key (id bigint) | UPDATE t SET b = a WHERE b IS DISTINCT FROM a",
	    "contract own rename-column-via-sync-trigger | DROP TRIGGER IF EXISTS t_a_pgphase_sync ON t;\nDROP FUNCTION IF EXISTS t_a_pgphase_sync();\nALTER TABLE t DROP IF EXISTS a" },
	  "SELECT string_agg(attname, ',' ORDER BY attnum) || (SELECT count(*) FROM t WHERE b = 'a' || id)"
	  " || (SELECT count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass)"
	  " || (SELECT count(*) FROM pg_proc WHERE proname LIKE '%pgphase%')"
	  " FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped",
	  "id,n,b300000" },
	{ "rename-column-via-sync-trigger",
	  "CREATE TABLE r (id bigint PRIMARY KEY, a text NOT NULL DEFAULT 'dflt', n int);\n",
	  "INSERT INTO r SELECT g, 'a' || g, g FROM generate_series(1, 3000) g",
	  "ALTER TABLE r RENAME COLUMN a TO b;\n",
	  { "expand txn rename-column-via-sync-trigger | ALTER TABLE r ADD COLUMN b text",
	    "expand txn rename-column-via-sync-trigger | CREATE FUNCTION r_a_pgphase_sync() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN  IF TG_OP = 'INSERT' THEN   IF NEW.\"b\" IS NULL THEN NEW.\"b\" := NEW.\"a\"; ELSE NEW.\"a\" := NEW.\"b\"; END IF;  ELSIF NEW.\"b\" IS DISTINCT FROM OLD.\"b\" THEN NEW.\"a\" := NEW.\"b\";  ELSE NEW.\"b\" := NEW.\"a\";  END IF;  RETURN NEW; END $$;\nCREATE TRIGGER r_a_pgphase_sync BEFORE INSERT OR UPDATE ON r FOR EACH ROW EXECUTE FUNCTION r_a_pgphase_sync()",
	    "backfill none rename-column-via-sync-trigger | key (id bigint) | UPDATE r SET b = a WHERE b IS DISTINCT FROM a",
	    "backfill none rename-column-via-sync-trigger | SELECT count(*) FROM r WHERE b IS NULL",
	    "backfill own rename-column-via-sync-trigger | ALTER TABLE r ADD CONSTRAINT r_b_pgphase_nn_30c09620 CHECK (b IS NOT NULL) NOT VALID",
	    "backfill own rename-column-via-sync-trigger | ALTER TABLE r VALIDATE CONSTRAINT r_b_pgphase_nn_30c09620",
	    "contract own rename-column-via-sync-trigger | ALTER TABLE r ALTER COLUMN b SET NOT NULL;\nALTER TABLE r ALTER COLUMN b SET DEFAULT 'dflt';\nDROP TRIGGER IF EXISTS r_a_pgphase_sync ON r;\nDROP FUNCTION IF EXISTS r_a_pgphase_sync();\nALTER TABLE r DROP IF EXISTS a;\nALTER TABLE r DROP CONSTRAINT IF EXISTS r_b_pgphase_nn_30c09620" },
	  "SELECT a.attnotnull::text || pg_get_expr(d.adbin, d.adrelid) || (SELECT count(*) FROM r"
	  " WHERE b = 'a' || id) FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid"
	  " AND d.adnum = a.attnum WHERE a.attrelid = 'r'::regclass AND a.attname = 'b'",
	  "true'dflt'::text3000" },
	{ "change-column-type-via-shadow-column",
	  "CREATE TABLE s (id bigint PRIMARY KEY, n int NOT NULL);\n",
	  "INSERT INTO s SELECT g, g FROM generate_series(1, 3000) g",
	  "ALTER TABLE s ALTER COLUMN n TYPE numeric(12, 2) USING n / 2.0;\n",
	  { "expand txn change-column-type-via-shadow-column | ALTER TABLE s ADD COLUMN n_pgphase_new numeric(12, 2)",
	    "expand txn change-column-type-via-shadow-column | CREATE FUNCTION s_n_pgphase_retype() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.\"n_pgphase_new\" := (SELECT n / 2.0 FROM (SELECT (new).*) s); RETURN NEW; END $$;\nCREATE TRIGGER s_n_pgphase_retype BEFORE INSERT OR UPDATE ON s FOR EACH ROW EXECUTE FUNCTION s_n_pgphase_retype()",
	    "backfill none change-column-type-via-shadow-column | key (id bigint) | UPDATE s SET n_pgphase_new = NULL WHERE n_pgphase_new IS NULL",
	    "backfill none change-column-type-via-shadow-column | SELECT count(*) FROM s WHERE n_pgphase_new IS NULL",
	    "backfill own change-column-type-via-shadow-column | ALTER TABLE s ADD CONSTRAINT s_n_pgphase_new_pgphase_nn_1f8e8bdd CHECK (n_pgphase_new IS NOT NULL) NOT VALID",
	    "backfill own change-column-type-via-shadow-column | ALTER TABLE s VALIDATE CONSTRAINT s_n_pgphase_new_pgphase_nn_1f8e8bdd",
	    "contract own change-column-type-via-shadow-column | ALTER TABLE s ALTER COLUMN n_pgphase_new SET NOT NULL;\nDROP TRIGGER IF EXISTS s_n_pgphase_retype ON s;\nDROP FUNCTION IF EXISTS s_n_pgphase_retype();\nALTER TABLE s DROP n;\nALTER TABLE s RENAME COLUMN n_pgphase_new TO n;\nALTER TABLE s DROP CONSTRAINT IF EXISTS s_n_pgphase_new_pgphase_nn_1f8e8bdd" },
	  "SELECT a.attnotnull::text || format_type(a.atttypid, a.atttypmod) || (SELECT sum(n) FROM s)"
	  " FROM pg_attribute a WHERE a.attrelid = 's'::regclass AND a.attname = 'n'",
	  "truenumeric(12,2)2250750.00" },
	{ "rename-table-via-view", FX_TABLE, FX_ROWS, "ALTER TABLE t RENAME TO t2;\n",
	  { "expand txn rename-table-via-view | ALTER TABLE t RENAME TO t2;\nCREATE VIEW t WITH (security_invoker=true) AS SELECT * FROM t2",
	    "contract own rename-table-via-view | DROP VIEW IF EXISTS t" },
	  "SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class"
	  " WHERE relname IN ('t', 't2')", "t2:r" },
	{ "change-column-type-via-shadow-column", FX_TABLE, FX_ROWS,
	  "ALTER TABLE t ALTER COLUMN n TYPE bigint;\n",
	  { "expand txn change-column-type-via-shadow-column | ALTER TABLE t ADD COLUMN n_pgphase_new bigint",
	    "expand txn change-column-type-via-shadow-column | CREATE FUNCTION t_n_pgphase_retype() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.\"n_pgphase_new\" := (SELECT n::bigint FROM (SELECT (new).*) t); RETURN NEW; END $$;\nCREATE TRIGGER t_n_pgphase_retype BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION t_n_pgphase_retype()",
	    "backfill none change-column-type-via-shadow-column | key (id bigint) | UPDATE t SET n_pgphase_new = NULL WHERE n_pgphase_new IS NULL",
	    "contract own change-column-type-via-shadow-column | DROP TRIGGER IF EXISTS t_n_pgphase_retype ON t;\nDROP FUNCTION IF EXISTS t_n_pgphase_retype();\nALTER TABLE t DROP n;\nALTER TABLE t RENAME COLUMN n_pgphase_new TO n" },
	  "SELECT format_type(atttypid, atttypmod) || (SELECT sum(n) FROM t)"
	  " || (SELECT count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass)"
	  " FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'n'", "bigint45015000" },
	{ "data-change-to-backfill", FX_TABLE, FX_ROWS, "UPDATE t SET n = n + 10000 WHERE n < 10000;\n",
	  { "backfill none data-change-to-backfill | key (id bigint) | UPDATE t SET n = n + 10000 WHERE n < 10000" },
	  "SELECT sum(n) FROM t", "34501500" },
};

#define N_STRAT_FIXTURES (sizeof(strat_fixtures) / sizeof(strat_fixtures[0]))

#endif
