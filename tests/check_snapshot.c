/*
 * The schema snapshot (src/sql/snapshot.c) sees what a migration can change: two databases
 * built from the same rich schema give no difference, and each single deviation (a changed
 * default, a lost index, a NOT VALID constraint, a missing comment or grant, a lower-cased
 * name, another collation, ...) gives a diff naming exactly that object.  Also the diff
 * function alone, and the harness helpers (th_psql_file's exit status, th_extra_db).
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pgphase/snapshot.h"

/* A schema touching every category the snapshot covers, with awkward names throughout. */
static const char rich_schema[] =
	"DO $$ BEGIN CREATE ROLE pgphase_snap_reader; EXCEPTION WHEN duplicate_object THEN"
	" NULL; END $$;\n"
	"CREATE SCHEMA \"App Schema\";\n"
	"CREATE TYPE \"App Schema\".mood AS ENUM ('sad', 'ok', 'happy');\n"
	"CREATE DOMAIN \"App Schema\".pos AS int CHECK (VALUE > 0);\n"
	"CREATE TABLE \"App Schema\".\"MyTable\" (\n"
	"  \"Id\" bigint GENERATED ALWAYS AS IDENTITY, \"Org\" int NOT NULL,\n"
	"  \"full name\" text COLLATE \"C\" DEFAULT 'x', \"a\"\"b\" int DEFAULT 1,\n"
	"  \"été\" \"App Schema\".mood, n \"App Schema\".pos,\n"
	"  \"Code\" text, twice int GENERATED ALWAYS AS (\"Org\" * 2) STORED,\n"
	"  PRIMARY KEY (\"Id\", \"Org\"), CONSTRAINT \"Pos\" CHECK (\"Org\" > 0));\n"
	"ALTER TABLE \"App Schema\".\"MyTable\" ALTER \"Org\" SET STATISTICS 500;\n"
	"CREATE INDEX \"MyIdx\" ON \"App Schema\".\"MyTable\" (lower(\"full name\"))"
	" WHERE \"Org\" > 1;\n"
	"CREATE TABLE public.child (id int PRIMARY KEY, t_id bigint, t_org int,\n"
	"  CONSTRAINT \"Child_fk\" FOREIGN KEY (t_id, t_org)"
	" REFERENCES \"App Schema\".\"MyTable\");\n"
	"CREATE TABLE public.parted (k int, v text) PARTITION BY RANGE (k);\n"
	"CREATE TABLE public.parted_1 PARTITION OF public.parted FOR VALUES FROM (0) TO (10);\n"
	"CREATE INDEX ON public.parted (v);\n"
	"CREATE VIEW \"App Schema\".\"My View\" AS SELECT \"Id\", \"full name\""
	" FROM \"App Schema\".\"MyTable\";\n"
	"CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$\n"
	"BEGIN\n  RETURN NEW;\nEND $$;\n"
	"CREATE TRIGGER \"Touch\" BEFORE UPDATE ON \"App Schema\".\"MyTable\""
	" FOR EACH ROW EXECUTE FUNCTION public.touch();\n"
	"ALTER TABLE \"App Schema\".\"MyTable\" ENABLE ROW LEVEL SECURITY;\n"
	"CREATE POLICY \"Own\" ON \"App Schema\".\"MyTable\" USING (\"Org\" = 1);\n"
	"CREATE SEQUENCE public.counter INCREMENT 5;\n"
	"GRANT USAGE ON SCHEMA \"App Schema\" TO pgphase_snap_reader;\n"
	"GRANT SELECT ON \"App Schema\".\"MyTable\" TO pgphase_snap_reader;\n"
	"GRANT UPDATE (\"full name\") ON \"App Schema\".\"MyTable\" TO pgphase_snap_reader;\n"
	"COMMENT ON TABLE \"App Schema\".\"MyTable\" IS 'the table';\n"
	"COMMENT ON COLUMN \"App Schema\".\"MyTable\".\"full name\" IS 'who';\n"
	"COMMENT ON CONSTRAINT \"Pos\" ON \"App Schema\".\"MyTable\" IS 'positive';\n"
	"COMMENT ON INDEX \"App Schema\".\"MyIdx\" IS 'lookup';\n"
	"COMMENT ON SCHEMA \"App Schema\" IS 'app';\n";

static void exec_db(const char *db, const char *sql)
{
	char *ci = th_conninfo_for(db);
	PGconn *c = PQconnectdb(ci);
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		      "query failed: %s\nSQL: %s", PQerrorMessage(c), sql);
	PQclear(r);
	PQfinish(c);
	free(ci);
}

/* Both databases get rich_schema; b then gets change.  Returns the diff (NULL: none). */
static char *diff_after(const char *change)
{
	char *a = th_extra_db("a"), *sa, *sb, *d;

	exec_db(a, rich_schema);
	exec_db(th_dbname(), rich_schema);
	if (change)
		exec_db(th_dbname(), change);
	sa = th_snapshot(a);
	sb = th_snapshot(th_dbname());
	d = pgphase_snapshot_diff(sa, sb);
	free(sa);
	free(sb);
	free(a);
	return d;
}

START_TEST(test_identical)
{
	char *a = th_extra_db("a"), *s;

	exec_db(a, rich_schema);
	exec_db(th_dbname(), rich_schema);
	th_assert_same_schema(a, th_dbname());
	s = th_snapshot(a);
	/* names exactly as PostgreSQL quotes them, every category present */
	th_assert_contains(s, "column \"App Schema\".\"MyTable\".\"full name\": type=text notnull=f"
			      " default='x'::text collation=pg_catalog.\"C\"");
	th_assert_contains(s, "column \"App Schema\".\"MyTable\".\"a\"\"b\": type=integer");
	th_assert_contains(s, "column \"App Schema\".\"MyTable\".\"été\": type=\"App Schema\".mood");
	th_assert_contains(s, "column \"App Schema\".\"MyTable\".\"Id\": type=bigint notnull=t"
			      " identity=a stattarget=-1");
	th_assert_contains(s, "column \"App Schema\".\"MyTable\".\"Org\": type=integer notnull=t"
			      " stattarget=500");
	th_assert_contains(s, "generated=s");
	th_assert_contains(s, "index \"App Schema\".\"MyIdx\": CREATE INDEX \"MyIdx\" ON"
			      " \"App Schema\".\"MyTable\" USING btree (lower(\"full name\")) WHERE"
			      " (\"Org\" > 1) valid=t");
	th_assert_contains(s, "constraint public.child.\"Child_fk\": FOREIGN KEY (t_id, t_org)");
	th_assert_contains(s, "table public.parted_1: kind=r");
	th_assert_contains(s, "partition_of=public.parted bound=FOR VALUES FROM (0) TO (10)");
	th_assert_contains(s, "view \"App Schema\".\"My View\": ");
	th_assert_contains(s, "function public.touch(): owner=");
	th_assert_contains(s, "\\n"); /* the function body's newlines, escaped */
	th_assert_contains(s, "trigger \"App Schema\".\"MyTable\".\"Touch\": CREATE TRIGGER");
	th_assert_contains(s, "policy \"App Schema\".\"MyTable\".\"Own\": cmd=*");
	th_assert_contains(s, "rls=t force_rls=f replident=d");
	th_assert_contains(s, "sequence public.counter: type=bigint start=1 increment=5");
	th_assert_contains(s, "type \"App Schema\".mood: kind=e");
	th_assert_contains(s, "labels='sad','ok','happy'");
	th_assert_contains(s, "constraint \"App Schema\".pos.pos_check: CHECK ((VALUE > 0))");
	th_assert_contains(s, "acl column \"App Schema\".\"MyTable\".\"full name\": "
			      "pgphase_snap_reader=w/postgres");
	th_assert_contains(s, "pgphase_snap_reader=r/postgres");
	th_assert_contains(s, "comment table column \"App Schema\".\"MyTable\".\"full name\": who");
	th_assert_contains(s, "comment table constraint \"Pos\" on \"App Schema\".\"MyTable\"");
	th_assert_contains(s, "comment schema \"App Schema\": app");
	th_assert_contains(s, "extension plpgsql: ");
	th_assert_not_contains(s, "position=");
	free(s);
	free(a);
}
END_TEST

/* The state schema is left out; a temp table and extension members are never seen. */
START_TEST(test_excluded)
{
	char *a = th_extra_db("a");

	exec_db(th_dbname(), "CREATE SCHEMA pgphase; CREATE TABLE pgphase.migrations (v int);"
			     " COMMENT ON SCHEMA pgphase IS 'state'");
	th_assert_same_schema(a, th_dbname());
	free(a);
}
END_TEST

/* Each deviation on b and the line the diff must contain. */
static const struct {
	const char *name, *change, *expect;
} deviations[] = {
	{ "default", "ALTER TABLE \"App Schema\".\"MyTable\" ALTER \"a\"\"b\" SET DEFAULT 2",
	  "+ column \"App Schema\".\"MyTable\".\"a\"\"b\": type=integer notnull=f default=2" },
	{ "lost index", "DROP INDEX \"App Schema\".\"MyIdx\"", "- index \"App Schema\".\"MyIdx\"" },
	{ "not valid",
	  "ALTER TABLE \"App Schema\".\"MyTable\" DROP CONSTRAINT \"Pos\";"
	  " ALTER TABLE \"App Schema\".\"MyTable\" ADD CONSTRAINT \"Pos\" CHECK (\"Org\" > 0)"
	  " NOT VALID; COMMENT ON CONSTRAINT \"Pos\" ON \"App Schema\".\"MyTable\" IS 'positive'",
	  "+ constraint \"App Schema\".\"MyTable\".\"Pos\": CHECK ((\"Org\" > 0)) NOT VALID"
	  " validated=f" },
	{ "comment", "COMMENT ON COLUMN \"App Schema\".\"MyTable\".\"full name\" IS NULL",
	  "- comment table column \"App Schema\".\"MyTable\".\"full name\": who" },
	{ "grant", "REVOKE SELECT ON \"App Schema\".\"MyTable\" FROM pgphase_snap_reader",
	  "- acl table \"App Schema\".\"MyTable\": " },
	{ "column grant",
	  "REVOKE UPDATE (\"full name\") ON \"App Schema\".\"MyTable\" FROM pgphase_snap_reader",
	  "- acl column \"App Schema\".\"MyTable\".\"full name\"" },
	{ "lower-cased", "ALTER INDEX \"App Schema\".\"MyIdx\" RENAME TO myidx",
	  "+ index \"App Schema\".myidx: CREATE INDEX myidx" },
	{ "collation", "ALTER TABLE \"App Schema\".\"MyTable\" ALTER \"Code\" TYPE text"
		       " COLLATE \"POSIX\"",
	  "collation=pg_catalog.\"POSIX\"" },
	{ "stattarget", "ALTER TABLE \"App Schema\".\"MyTable\" ALTER \"Org\" SET STATISTICS -1",
	  "+ column \"App Schema\".\"MyTable\".\"Org\": type=integer notnull=t stattarget=-1" },
	{ "identity",
	  "ALTER TABLE \"App Schema\".\"MyTable\" ALTER \"Id\" SET GENERATED BY DEFAULT",
	  "identity=d" },
	{ "not null", "ALTER TABLE public.child ALTER t_org SET NOT NULL",
	  "+ column public.child.t_org: type=integer notnull=t" },
	{ "trigger disabled", "ALTER TABLE \"App Schema\".\"MyTable\" DISABLE TRIGGER \"Touch\"",
	  "enabled=D" },
	{ "policy", "DROP POLICY \"Own\" ON \"App Schema\".\"MyTable\"",
	  "- policy \"App Schema\".\"MyTable\".\"Own\"" },
	{ "rls", "ALTER TABLE \"App Schema\".\"MyTable\" FORCE ROW LEVEL SECURITY",
	  "force_rls=t" },
	{ "replica identity",
	  "ALTER TABLE public.child REPLICA IDENTITY FULL", "replident=f" },
	{ "view", "CREATE OR REPLACE VIEW \"App Schema\".\"My View\" AS SELECT \"Id\","
		  " \"full name\" FROM \"App Schema\".\"MyTable\" WHERE \"Id\" > 0",
	  "+ view \"App Schema\".\"My View\"" },
	{ "enum", "ALTER TYPE \"App Schema\".mood ADD VALUE 'meh'", "'happy','meh'" },
	{ "type", "ALTER TABLE public.child ALTER t_org TYPE bigint",
	  "- column public.child.t_org: type=integer" },
	{ "sequence", "ALTER SEQUENCE public.counter INCREMENT 1", "increment=1" },
	{ "fk deferrable", "ALTER TABLE public.child ALTER CONSTRAINT \"Child_fk\" DEFERRABLE",
	  "deferrable=t" },
	{ "function", "CREATE OR REPLACE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql"
		      " AS $$ BEGIN RETURN OLD; END $$",
	  "+ function public.touch()" },
	{ "no change", NULL, NULL },
};

START_TEST(test_deviation)
{
	char *d = diff_after(deviations[_i].change);

	if (!deviations[_i].expect) {
		ck_assert_msg(d == NULL, "unexpected diff:\n%s", d);
		return;
	}
	ck_assert_msg(d != NULL, "%s: the snapshot did not see the change", deviations[_i].name);
	ck_assert_msg(strstr(d, deviations[_i].expect) != NULL,
		      "%s: expected \"%s\" in the diff:\n%s", deviations[_i].name,
		      deviations[_i].expect, d);
	free(d);
}
END_TEST

/* Columns in another order are the same schema unless the position is asked for. */
START_TEST(test_column_order)
{
	char *a = th_extra_db("a"), *ci, *sa, *sb, *d;
	struct pgphase_snapshot_options opts = { NULL, true };
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	PGconn *c;

	exec_db(a, "CREATE TABLE t (x int, y text)");
	exec_db(th_dbname(), "CREATE TABLE t (y text, x int)");
	th_assert_same_schema(a, th_dbname());
	ci = th_conninfo_for(a);
	c = PQconnectdb(ci);
	sa = pgphase_snapshot_take(c, &opts, &err);
	PQfinish(c);
	c = th_connect();
	sb = pgphase_snapshot_take(c, &opts, &err);
	PQfinish(c);
	ck_assert_ptr_nonnull(sa);
	ck_assert_ptr_nonnull(sb);
	d = pgphase_snapshot_diff(sa, sb);
	ck_assert_ptr_nonnull(d);
	th_assert_contains(d, "- column public.t.x: type=integer notnull=f stattarget=-1"
			      " position=1");
	free(d);
	free(sa);
	free(sb);
	free(ci);
	free(a);
}
END_TEST

START_TEST(test_diff)
{
	char *d;

	ck_assert_ptr_null(pgphase_snapshot_diff("", ""));
	ck_assert_ptr_null(pgphase_snapshot_diff("a\nb\n", "b\na\n"));
	d = pgphase_snapshot_diff("a\nb\nb\nd\n", "b\nc\nd\n");
	ck_assert_str_eq(d, "- a\n- b\n+ c\n");
	free(d);
	d = pgphase_snapshot_diff(NULL, "x\n");
	ck_assert_str_eq(d, "+ x\n");
	free(d);
}
END_TEST

START_TEST(test_psql_file)
{
	char *dir = th_tmpdir(), path[600], *out = NULL;

	th_write(dir, "ok.sql", "CREATE TABLE t (a int); INSERT INTO t VALUES (1);");
	th_write(dir, "bad.sql", "CREATE TABLE u (a int); SELECT nope;");
	snprintf(path, sizeof(path), "%s/ok.sql", dir);
	ck_assert_int_eq(th_psql_file(th_dbname(), path, NULL), 0);
	snprintf(path, sizeof(path), "%s/bad.sql", dir);
	ck_assert_int_ne(th_psql_file(th_dbname(), path, &out), 0);
	th_assert_contains(out, "nope");
	/* -1: the failed file left nothing behind */
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 'u'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM t"), 1);
	free(out);
	free(dir);
}
END_TEST

Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = th_db_tcase("snapshot");

	tcase_add_test(tc, test_identical);
	tcase_add_test(tc, test_excluded);
	tcase_add_loop_test(tc, test_deviation, 0, sizeof(deviations) / sizeof(deviations[0]));
	tcase_add_test(tc, test_column_order);
	tcase_add_test(tc, test_psql_file);
	suite_add_tcase(s, tc);
	tc = th_pure_tcase("snapshot_diff");
	tcase_add_test(tc, test_diff);
	suite_add_tcase(s, tc);
	return s;
}
