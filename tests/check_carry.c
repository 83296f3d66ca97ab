/*
 * Rename column and type change carry what hangs on the column (src/plan/plan_carry*.c):
 * every case runs the same statement through `psql -1` on one database and `pgphase
 * migrate` on another, both set up alike, and holds the end schemas to each other (a catalog
 * fingerprint: columns with type, NOT NULL, default, collation, statistics, privileges,
 * comments and options; constraints with definition, validity and comment; indexes with
 * definition, validity and clustering; triggers, functions, sequences and their owners;
 * tables' privileges and replica identity; the column's position left out, the documented
 * difference) and the data of the pre-existing columns.  Statements whose dependents cannot
 * be carried must run as written (the plan says so) and end the same way.  Also: old and new
 * app writes between expand and contract, and rollback after backfill.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "strategies/support.h"

/* The catalog fingerprint, one fact per line, sorted; schema pgphase left out. */
#define NSP_OK(n) "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgphase') AND " \
		  "n.nspname NOT LIKE 'pg_toast%'"
static const char SQL_SNAPSHOT[] =
	"SELECT string_agg(line, E'\\n' ORDER BY line) FROM ("
	"SELECT format('column %s.%I: %s notnull=%s default=%s coll=%s ident=%s gen=%s stat=%s"
	" acl=%s comment=%s opts=%s storage=%s', a.attrelid::regclass, a.attname,"
	" format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid),"
	" a.attcollation::regcollation, a.attidentity, a.attgenerated, a.attstattarget, a.attacl,"
	" col_description(a.attrelid, a.attnum), a.attoptions, a.attstorage) AS line"
	" FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
	" JOIN pg_namespace n ON n.oid = c.relnamespace"
	" LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
	" WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v') AND " NSP_OK(n)
	" UNION ALL SELECT format('constraint %s.%I: %s valid=%s deferrable=%s/%s comment=%s',"
	" k.conrelid::regclass, k.conname, pg_get_constraintdef(k.oid), k.convalidated,"
	" k.condeferrable, k.condeferred, obj_description(k.oid, 'pg_constraint'))"
	" FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace"
	" WHERE k.conrelid <> 0 AND " NSP_OK(n)
	" UNION ALL SELECT format('index %s: %s valid=%s clustered=%s replident=%s comment=%s',"
	" i.indexrelid::regclass, pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisclustered,"
	" i.indisreplident, obj_description(i.indexrelid, 'pg_class'))"
	" FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
	" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE " NSP_OK(n)
	" UNION ALL SELECT format('trigger %s', pg_get_triggerdef(t.oid)) FROM pg_trigger t"
	" WHERE NOT t.tgisinternal"
	" UNION ALL SELECT format('policy %s %s', p.polname, pg_get_expr(p.polqual, p.polrelid))"
	" FROM pg_policy p"
	" UNION ALL SELECT format('view %s: %s', c.oid::regclass, pg_get_viewdef(c.oid))"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relkind = 'v' AND " NSP_OK(n)
	" UNION ALL SELECT format('function %s', p.oid::regprocedure) FROM pg_proc p"
	" JOIN pg_namespace n ON n.oid = p.pronamespace WHERE " NSP_OK(n)
	" UNION ALL SELECT format('sequence %s owned=%s', s.oid::regclass,"
	" (SELECT format('%s.%I', d.refobjid::regclass, a.attname) FROM pg_depend d"
	"   JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
	"  WHERE d.objid = s.oid AND d.classid = 'pg_class'::regclass"
	"    AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))"
	" FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace"
	" WHERE s.relkind = 'S' AND " NSP_OK(n)
	" UNION ALL SELECT format('table %s replident=%s acl=%s rls=%s', c.oid::regclass,"
	" c.relreplident, c.relacl, c.relrowsecurity) FROM pg_class c"
	" JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND "
	NSP_OK(n) ") s";

/* Roles are cluster-wide: created once, whoever comes first. */
static const char SQL_ROLES[] =
	"DO $$BEGIN CREATE ROLE carry_reader; EXCEPTION WHEN duplicate_object THEN NULL; END$$;"
	"DO $$BEGIN CREATE ROLE \"Carry Mixed\"; EXCEPTION WHEN duplicate_object THEN NULL; END$$;";

/* Everything on one column: schema and names that need quoting, a COLLATE "C" column with
 * NOT NULL, default, comment, grants and statistics target, a plain, an expression and a
 * partial index, UNIQUE, CHECK, an FK out of the table and one of another table into the
 * column. */
static const char SETUP_EMAIL[] =
	"CREATE SCHEMA \"App Data\";"
	"CREATE TABLE \"App Data\".\"Orgs\" (id int PRIMARY KEY, \"Code\" text NOT NULL UNIQUE);"
	"CREATE TABLE \"App Data\".\"Users\" (id bigserial PRIMARY KEY,"
	" \"Email Addr\" text COLLATE \"C\" NOT NULL DEFAULT 'x@y', org int,"
	" CONSTRAINT \"Users email chk\" CHECK (length(\"Email Addr\") > 2),"
	" CONSTRAINT \"Uq Email\" UNIQUE (\"Email Addr\"),"
	" CONSTRAINT \"Users org fk\" FOREIGN KEY (org) REFERENCES \"App Data\".\"Orgs\" (id));"
	"CREATE INDEX \"Users email idx\" ON \"App Data\".\"Users\" (\"Email Addr\");"
	"CREATE INDEX \"users lower\" ON \"App Data\".\"Users\" (lower(\"Email Addr\"));"
	"CREATE INDEX \"users partial\" ON \"App Data\".\"Users\" (org) WHERE \"Email Addr\" <> '';"
	"CREATE TABLE \"App Data\".\"Refs\" (id int PRIMARY KEY, email text"
	" REFERENCES \"App Data\".\"Users\" (\"Email Addr\") ON DELETE CASCADE);"
	"COMMENT ON COLUMN \"App Data\".\"Users\".\"Email Addr\" IS 'the user''s email';"
	"GRANT SELECT (\"Email Addr\"), UPDATE (\"Email Addr\") ON \"App Data\".\"Users\""
	" TO carry_reader;"
	"ALTER TABLE \"App Data\".\"Users\" ALTER COLUMN \"Email Addr\" SET STATISTICS 500;"
	"INSERT INTO \"App Data\".\"Orgs\" VALUES (1, 'a'), (2, 'b');"
	"INSERT INTO \"App Data\".\"Users\" (id, \"Email Addr\", org)"
	" SELECT g, 'u' || g || '@x', 1 + g % 2 FROM generate_series(1, 300) g;"
	"INSERT INTO \"App Data\".\"Refs\" VALUES (1, 'u1@x'), (2, 'u2@x');";

/* Keys: a serial primary key with column options, grants (PUBLIC, a mixed-case role, WITH
 * GRANT OPTION), a commented, clustered key; a composite primary key referenced by a
 * composite FK; deferrable and NOT VALID foreign keys into the key. */
static const char SETUP_KEYS[] =
	"CREATE SCHEMA s2;"
	"CREATE TABLE s2.accounts (id serial PRIMARY KEY, region text NOT NULL DEFAULT 'eu',"
	" n int);"
	"CREATE TABLE s2.items (acct int NOT NULL, \"Line No\" int NOT NULL, v text,"
	" PRIMARY KEY (acct, \"Line No\"), CONSTRAINT \"Items Acct FK\" FOREIGN KEY (acct)"
	" REFERENCES s2.accounts (id) DEFERRABLE INITIALLY DEFERRED);"
	"CREATE TABLE s2.notes (id int PRIMARY KEY, acct int, line int,"
	" FOREIGN KEY (acct, line) REFERENCES s2.items (acct, \"Line No\"));"
	"CREATE TABLE s2.payments (id int PRIMARY KEY, acct int);"
	"ALTER TABLE s2.payments ADD FOREIGN KEY (acct) REFERENCES s2.accounts (id) NOT VALID;"
	"ALTER TABLE s2.accounts ALTER COLUMN id SET (n_distinct = -1);"
	"GRANT SELECT (id), REFERENCES (id) ON s2.accounts TO \"Carry Mixed\" WITH GRANT OPTION;"
	"GRANT INSERT (id) ON s2.accounts TO PUBLIC;"
	"COMMENT ON CONSTRAINT accounts_pkey ON s2.accounts IS 'pk!';"
	"CLUSTER s2.accounts USING accounts_pkey;"
	"INSERT INTO s2.accounts (region, n) SELECT 'r' || g, g FROM generate_series(1, 50) g;"
	"INSERT INTO s2.items SELECT 1 + g % 50, g, 'v' FROM generate_series(1, 200) g;"
	"INSERT INTO s2.notes SELECT g, 1 + g % 50, g FROM generate_series(1, 200) g;"
	"INSERT INTO s2.payments VALUES (1, 1), (2, 2);";

/* What cannot be carried: views, identity, generation expressions, partitions, triggers,
 * policies, exclusion constraints, statistics objects. */
static const char SETUP_BLOCKED[] =
	"CREATE TABLE t (id int PRIMARY KEY, a varchar(26) NOT NULL, n numeric(10, 2),"
	" g int GENERATED ALWAYS AS (id * 2) STORED, ident int GENERATED BY DEFAULT AS IDENTITY,"
	" e int NOT NULL DEFAULT 0, w text, pol text, s text, v text, x int);"
	"CREATE INDEX t_a ON t (a);"
	"CREATE VIEW tv AS SELECT id, v FROM t;"
	"CREATE TABLE tx (id int PRIMARY KEY, r int4range, EXCLUDE USING gist (r WITH &&));"
	"CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;"
	"CREATE TRIGGER tw BEFORE UPDATE OF w ON t FOR EACH ROW EXECUTE FUNCTION trg();"
	"ALTER TABLE t ENABLE ROW LEVEL SECURITY;"
	"CREATE POLICY p ON t USING (pol = current_user);"
	"CREATE TABLE pt (id int, k text) PARTITION BY LIST (k);"
	"CREATE TABLE pt1 PARTITION OF pt FOR VALUES IN ('a');"
	"CREATE STATISTICS st ON s, x FROM t;"
	"INSERT INTO t (id, a, n, e, w, pol, s, v)"
	" SELECT g, 'a' || g, g, g, 'w', 'p', 's', 'v' FROM generate_series(1, 20) g;";

struct carry_case {
	const char *name, *setup, *change;
	const char *strategy; /* the plan's, or "as-written" */
	const char *data;     /* a query over pre-existing columns, same on both sides */
};

#define EMAIL_DATA "SELECT string_agg(id || ':' || %s, ',' ORDER BY id) FROM \"App Data\".\"Users\""
#define REN "rename-column-via-sync-trigger"
#define RETYPE "change-column-type-via-shadow-column"
#define AW "as-written"

static const struct carry_case cases[] = {
	{ "rename everything", SETUP_EMAIL,
	  "ALTER TABLE \"App Data\".\"Users\" RENAME COLUMN \"Email Addr\" TO \"E Mail\";\n", REN,
	  "SELECT string_agg(id || ':' || \"E Mail\" || org, ',' ORDER BY id)"
	  " FROM \"App Data\".\"Users\"" },
	{ "retype everything", SETUP_EMAIL,
	  "ALTER TABLE \"App Data\".\"Users\" ALTER COLUMN \"Email Addr\" TYPE varchar(200);\n",
	  RETYPE, "SELECT string_agg(id || ':' || \"Email Addr\" || org, ',' ORDER BY id)"
		  " FROM \"App Data\".\"Users\"" },
	{ "rename serial primary key", SETUP_KEYS,
	  "ALTER TABLE s2.accounts RENAME COLUMN id TO \"Account ID\";\n", REN,
	  "SELECT string_agg(\"Account ID\" || region, ',' ORDER BY \"Account ID\")"
	  " FROM s2.accounts" },
	{ "retype serial primary key", SETUP_KEYS,
	  "ALTER TABLE s2.accounts ALTER COLUMN id TYPE bigint;\n",
	  RETYPE, "SELECT string_agg(id || region, ',' ORDER BY id) FROM s2.accounts" },
	{ "rename in composite key", SETUP_KEYS,
	  "ALTER TABLE s2.items RENAME COLUMN \"Line No\" TO \"Line Number\";\n", REN,
	  "SELECT string_agg(acct || ':' || \"Line Number\", ',' ORDER BY acct, \"Line Number\")"
	  " FROM s2.items" },
	{ "retype in composite key", SETUP_KEYS,
	  "ALTER TABLE s2.items ALTER COLUMN \"Line No\" TYPE bigint;\n", RETYPE,
	  "SELECT string_agg(acct || ':' || \"Line No\", ',' ORDER BY acct, \"Line No\")"
	  " FROM s2.items" },
	{ "retype keeps DROP NOT NULL", SETUP_BLOCKED,
	  "ALTER TABLE t ALTER COLUMN a TYPE varchar(10), ALTER COLUMN a DROP NOT NULL;\n", RETYPE,
	  "SELECT string_agg(id || ':' || a, ',' ORDER BY id) FROM t" },
	{ "retype keeps DROP DEFAULT", SETUP_BLOCKED,
	  "ALTER TABLE t ALTER COLUMN e TYPE bigint, ALTER COLUMN e DROP DEFAULT;\n", RETYPE,
	  "SELECT string_agg(id || ':' || e, ',' ORDER BY id) FROM t" },
	/* run as written: exact by construction */
	{ "view", SETUP_BLOCKED, "ALTER TABLE t RENAME COLUMN v TO v2;\n", AW, NULL },
	{ "identity", SETUP_BLOCKED, "ALTER TABLE t RENAME COLUMN ident TO i2;\n", AW, NULL },
	{ "generation expression", SETUP_BLOCKED, "ALTER TABLE t RENAME COLUMN id TO id2;\n", AW,
	  NULL },
	{ "generated", SETUP_BLOCKED, "ALTER TABLE t ALTER COLUMN g TYPE bigint;\n", AW, NULL },
	{ "partitioned", SETUP_BLOCKED, "ALTER TABLE pt RENAME COLUMN k TO k2;\n", AW, NULL },
	{ "trigger", SETUP_BLOCKED, "ALTER TABLE t RENAME COLUMN w TO w2;\n", AW, NULL },
	{ "policy", SETUP_BLOCKED, "ALTER TABLE t RENAME COLUMN pol TO pol2;\n", AW, NULL },
	{ "exclusion", SETUP_BLOCKED, "ALTER TABLE tx RENAME COLUMN r TO r2;\n", AW, NULL },
	{ "statistics object", SETUP_BLOCKED, "ALTER TABLE t RENAME COLUMN s TO s2;\n", AW, NULL },
	{ "new default beside", SETUP_BLOCKED,
	  "ALTER TABLE t ALTER COLUMN e TYPE text, ALTER COLUMN e SET DEFAULT 'q';\n", AW, NULL },
	/* no rewrite in PostgreSQL: as written */
	{ "varchar(26) to varchar", SETUP_BLOCKED, "ALTER TABLE t ALTER COLUMN a TYPE varchar;\n",
	  AW, NULL },
	{ "varchar to text", SETUP_BLOCKED, "ALTER TABLE t ALTER COLUMN a TYPE text;\n", AW, NULL },
	{ "same type", SETUP_BLOCKED, "ALTER TABLE t ALTER COLUMN a TYPE varchar(26);\n", AW,
	  NULL },
	{ "numeric widening", SETUP_BLOCKED, "ALTER TABLE t ALTER COLUMN n TYPE numeric(12, 2);\n",
	  AW, NULL },
	{ "numeric scale change", SETUP_BLOCKED,
	  "ALTER TABLE t ALTER COLUMN n TYPE numeric(12, 3);\n", RETYPE,
	  "SELECT string_agg(id || ':' || n, ',' ORDER BY id) FROM t" },
	{ "not null beside binary", SETUP_BLOCKED,
	  "ALTER TABLE t ALTER COLUMN a TYPE text, ALTER COLUMN a DROP NOT NULL;\n", AW, NULL },
};

static char *psql_db;

/* A second database for psql, set up like the test database. */
static char *other_db(const char *setup)
{
	char *name, sql[512];
	PGconn *c;
	PGresult *r;

	if (asprintf(&name, "%s_psql", th_dbname()) < 0)
		abort();
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
	th_exec(sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", name);
	th_exec(sql);
	{
		char *ci = th_conninfo_for(name);

		c = PQconnectdb(ci);
		free(ci);
	}
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, setup);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "setup: %s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return name;
}

static void drop_other_db(void)
{
	char sql[512];

	if (!psql_db)
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", psql_db);
	th_exec(sql);
	free(psql_db);
	psql_db = NULL;
}

/* First value of sql on database db (malloc'd, "" for NULL). */
static char *value_on(const char *db, const char *sql)
{
	char *ci = th_conninfo_for(db), *v;
	PGconn *c = PQconnectdb(ci);
	PGresult *r = PQexec(c, sql);

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	v = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	PQfinish(c);
	free(ci);
	return v;
}

/* psql -X -q -1 -v ON_ERROR_STOP=1 -f file on db: its exit status. */
static int run_psql(const char *db, const char *dir, const char *file)
{
	char *ci = th_conninfo_for(db), cmd[8192];
	int rc;

	snprintf(cmd, sizeof(cmd), "psql -X -q -1 -v ON_ERROR_STOP=1 -d '%s' -f '%s/%s' "
		 ">/dev/null 2>&1", ci, dir, file);
	rc = system(cmd);
	free(ci);
	return rc;
}

static void assert_same(const char *what, const char *a, const char *b)
{
	ck_assert_msg(strcmp(a, b) == 0, "%s differ\npsql:\n%s\n\npgphase:\n%s", what, a, b);
}

static char *write_dir(const char *change)
{
	char *dir = th_tmpdir();

	th_write(dir, "m/001_change.sql", change);
	th_write(dir, "pgphase.cfg", "lock_timeout = \"1s\";\n"
				     "backfill = { batch_size = 100; sleep = \"1ms\"; };\n");
	th_write(dir, "change.sql", change);
	return dir;
}

START_TEST(test_carry_equals_psql)
{
	const struct carry_case *k = &cases[_i];
	char *dir, *a, *b;
	struct th_run r;

	fx_private_binary();
	th_exec(SQL_ROLES);
	th_exec(k->setup);
	psql_db = other_db(k->setup);
	dir = write_dir(k->change);
	ck_assert_msg(run_psql(psql_db, dir, "change.sql") == 0, "%s: psql -1 failed", k->name);
	fx_pgphase(&r, dir, "plan");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, k->strategy);
	if (strcmp(k->strategy, AW) == 0) {
		th_assert_not_contains(r.out, REN);
		th_assert_not_contains(r.out, RETYPE);
	}
	th_run_release(&r);
	fx_pgphase(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	a = value_on(psql_db, SQL_SNAPSHOT);
	b = th_value(SQL_SNAPSHOT);
	assert_same(k->name, a, b);
	free(a);
	free(b);
	if (k->data) {
		a = value_on(psql_db, k->data);
		b = th_value(k->data);
		assert_same("data", a, b);
		ck_assert_msg(strlen(b) > 0, "%s: no data", k->name);
		free(a);
		free(b);
	}
	drop_other_db();
	free(dir);
}
END_TEST

/*
 * Between backfill and contract the old app (writing the old column) and the new app
 * (writing the new one) both work, the carried UNIQUE holds for both and the incoming FK
 * holds; the end schema after contract is psql's, with every row.
 */
START_TEST(test_rename_apps_live)
{
	char *dir, *a, *b;
	struct th_run r;

	fx_private_binary();
	th_exec(SQL_ROLES);
	th_exec(SETUP_EMAIL);
	psql_db = other_db(SETUP_EMAIL);
	dir = write_dir("ALTER TABLE \"App Data\".\"Users\" RENAME COLUMN \"Email Addr\""
			" TO \"E Mail\";\n");
	ck_assert_int_eq(run_psql(psql_db, dir, "change.sql"), 0);
	fx_pgphase(&r, dir, "expand");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	fx_pgphase(&r, dir, "backfill");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	/* old app */
	th_exec("INSERT INTO \"App Data\".\"Users\" (id, \"Email Addr\", org)"
		" VALUES (1001, 'old@x', 1);"
		"UPDATE \"App Data\".\"Users\" SET \"Email Addr\" = 'old5@x' WHERE id = 5");
	/* new app */
	th_exec("INSERT INTO \"App Data\".\"Users\" (id, \"E Mail\", org)"
		" VALUES (1002, 'new@x', 2);"
		"UPDATE \"App Data\".\"Users\" SET \"E Mail\" = 'new3@x' WHERE id = 3;"
		"INSERT INTO \"App Data\".\"Refs\" VALUES (3, 'new@x')");
	ck_assert_int_eq(th_long("SELECT count(*) FROM \"App Data\".\"Users\" WHERE"
				 " \"Email Addr\" IS DISTINCT FROM \"E Mail\""), 0);
	{
		PGconn *c = th_connect();
		PGresult *res = PQexec(c, "INSERT INTO \"App Data\".\"Users\" (id, \"E Mail\", org)"
					  " VALUES (1003, 'old@x', 1)");

		ck_assert_msg(PQresultStatus(res) == PGRES_FATAL_ERROR &&
				      strstr(PQerrorMessage(c), "duplicate key"),
			      "a duplicate through the new column must fail: %s",
			      PQerrorMessage(c));
		PQclear(res);
		PQfinish(c);
	}
	fx_pgphase(&r, dir, "contract");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM \"App Data\".\"Users\" WHERE"
				 " (id, \"E Mail\") IN ((1001, 'old@x'), (5, 'old5@x'),"
				 " (1002, 'new@x'), (3, 'new3@x'))"), 4);
	ck_assert_int_eq(th_long("SELECT count(*) FROM \"App Data\".\"Refs\""), 3);
	a = value_on(psql_db, SQL_SNAPSHOT);
	b = th_value(SQL_SNAPSHOT);
	assert_same("schema", a, b);
	free(a);
	free(b);
	drop_other_db();
	free(dir);
}
END_TEST

/* The same for a type change: old values written before contract land in the new type. */
START_TEST(test_retype_apps_live)
{
	char *dir, *a, *b;
	struct th_run r;

	fx_private_binary();
	th_exec(SQL_ROLES);
	th_exec(SETUP_KEYS);
	psql_db = other_db(SETUP_KEYS);
	dir = write_dir("ALTER TABLE s2.accounts ALTER COLUMN id TYPE bigint;\n");
	ck_assert_int_eq(run_psql(psql_db, dir, "change.sql"), 0);
	fx_pgphase(&r, dir, "expand");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	fx_pgphase(&r, dir, "backfill");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	th_exec("INSERT INTO s2.accounts (region) VALUES ('old app');"
		"INSERT INTO s2.accounts (id, region) VALUES (2000000, 'new app');"
		"INSERT INTO s2.payments VALUES (3, 2000000)");
	fx_pgphase(&r, dir, "contract");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM s2.accounts WHERE region IN ('old app',"
				 " 'new app')"), 2);
	th_exec("INSERT INTO s2.accounts (region) VALUES ('after')");
	ck_assert_int_eq(th_long("SELECT id FROM s2.accounts WHERE region = 'after'"), 52);
	th_exec("DELETE FROM s2.payments WHERE id = 3;"
		"DELETE FROM s2.accounts WHERE region IN ('old app', 'new app', 'after')");
	a = value_on(psql_db, SQL_SNAPSHOT);
	b = th_value(SQL_SNAPSHOT);
	/* the sequence advanced on one side only: not part of the snapshot */
	assert_same("schema", a, b);
	free(a);
	free(b);
	drop_other_db();
	free(dir);
}
END_TEST

/* Rollback after backfill leaves the original schema. */
START_TEST(test_rollback_after_backfill)
{
	static const char *const changes[] = {
		"ALTER TABLE \"App Data\".\"Users\" RENAME COLUMN \"Email Addr\" TO \"E Mail\";\n",
		"ALTER TABLE \"App Data\".\"Users\" ALTER COLUMN \"Email Addr\""
		" TYPE varchar(200);\n",
	};

	fx_private_binary();
	th_exec(SQL_ROLES);
	th_exec(SETUP_EMAIL);
	for (size_t i = 0; i < 2; i++) {
		char *before = th_value(SQL_SNAPSHOT), *after, *dir = write_dir(changes[i]);
		struct th_run r;

		fx_pgphase(&r, dir, "expand");
		th_assert_exit(&r, 0);
		th_run_release(&r);
		fx_pgphase(&r, dir, "backfill");
		th_assert_exit(&r, 0);
		th_run_release(&r);
		ck_assert_int_gt(th_long("SELECT count(*) FROM pg_indexes WHERE indexname LIKE"
					 " '%pgphase%'"), 0);
		fx_pgphase(&r, dir, "rollback");
		th_assert_exit(&r, 0);
		th_run_release(&r);
		after = th_value(SQL_SNAPSHOT);
		assert_same("schema before and after rollback", before, after);
		free(before);
		free(after);
		free(dir);
	}
}
END_TEST

static void teardown(void)
{
	drop_other_db();
}

Suite *carry_suite(void)
{
	Suite *s = suite_create("carry");
	TCase *tc = th_db_tcase("carry");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_loop_test(tc, test_carry_equals_psql, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_rename_apps_live);
	tcase_add_test(tc, test_retype_apps_live);
	tcase_add_test(tc, test_rollback_after_backfill);
	suite_add_tcase(s, tc);
	return s;
}
