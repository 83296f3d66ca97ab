/*
 * What a user's schema keeps through each strategy (issue 14, item 2, the strategies other
 * than rename-column and change-column-type): the end schema of `pgphase migrate` must equal
 * psql -1 on the same files (tests/strategies/equiv.h), and where a strategy cannot
 * reproduce the statement (partitioned tables, clauses the deparser loses, IF NOT EXISTS) the
 * plan must run it as written.  Also the transition itself for rename-table-via-view: the old
 * name keeps the table's privileges and row-level security for the old app.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "strategies/equiv.h"

#define T "CREATE TABLE t (id int PRIMARY KEY, a int, b int);\n"
#define T_ROWS "INSERT INTO t SELECT g, g, g FROM generate_series(1, 500) g"
#define P "CREATE TABLE p (id int PRIMARY KEY);\n"
#define P_ROWS "INSERT INTO p SELECT g FROM generate_series(1, 500) g; "
#define PART "CREATE TABLE pt (id int, a int, b int) PARTITION BY RANGE (id);\n" \
	     "CREATE TABLE pt1 PARTITION OF pt FOR VALUES FROM (0) TO (1000);\n"
#define PART_ROWS "INSERT INTO pt SELECT g, g, g FROM generate_series(1, 500) g"

struct audit_case {
	const char *what;
	const char *create, *data, *change;
	const char *plan[4]; /* `plan` names them (a strategy, or "as-written") */
};

static const struct audit_case cases[] = {
	{ "index on a partitioned table runs as written", PART, PART_ROWS,
	  "CREATE INDEX \"Pt A\" ON pt (a);\n", { "as-written" } },
	{ "foreign key on a partitioned table runs as written", P PART, P_ROWS PART_ROWS,
	  "ALTER TABLE pt ADD CONSTRAINT \"Pt Fk\" FOREIGN KEY (a) REFERENCES p (id);\n",
	  { "as-written" } },
	{ "unique key on a partitioned table runs as written", PART, PART_ROWS,
	  "ALTER TABLE pt ADD CONSTRAINT \"Pt Uq\" UNIQUE (id, a);\n", { "as-written" } },
	{ "check and NOT NULL on a partitioned table", PART, PART_ROWS,
	  "ALTER TABLE pt ADD CONSTRAINT \"Pt Ck\" CHECK (a > 0);\n"
	  "ALTER TABLE pt ALTER COLUMN b SET NOT NULL;\n",
	  { "add-check-not-valid", "set-not-null-via-check" } },
	/* as written: PostgreSQL 15's VALIDATE leaves the per-partition clones of such a key
	   not validated (the snapshot's convalidated shows it; pg_dump does not) */
	{ "foreign key referencing a partitioned table runs as written",
	  "CREATE TABLE pk (id int PRIMARY KEY) PARTITION BY RANGE (id);\n"
	  "CREATE TABLE pk1 PARTITION OF pk FOR VALUES FROM (0) TO (1000);\n" T,
	  "INSERT INTO pk SELECT g FROM generate_series(1, 500) g; " T_ROWS,
	  "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES pk (id) ON DELETE CASCADE"
	  " DEFERRABLE INITIALLY DEFERRED;\n", { "as-written" } },
	{ "ON DELETE SET NULL (columns), which the deparser loses, runs as written", P T,
	  P_ROWS T_ROWS,
	  "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES p (id)"
	  " ON DELETE SET NULL (a);\n", { "as-written" } },
	{ "unique with INCLUDE, NULLS NOT DISTINCT or DEFERRABLE runs as written", T, T_ROWS,
	  "ALTER TABLE t ADD CONSTRAINT u1 UNIQUE (a) INCLUDE (b);\n"
	  "ALTER TABLE t ADD CONSTRAINT u2 UNIQUE NULLS NOT DISTINCT (b);\n"
	  "ALTER TABLE t ADD CONSTRAINT u3 UNIQUE (a, b) DEFERRABLE;\n", { "as-written" } },
	{ "unnamed unique key and primary key get PostgreSQL's names",
	  "CREATE TABLE t (id int NOT NULL, a int, b int);\n", T_ROWS,
	  "ALTER TABLE t ADD UNIQUE (a, b);\nALTER TABLE t ADD PRIMARY KEY (id);\n",
	  { "add-unique-using-index" } },
	{ "index with opclass, collation, ordering, INCLUDE and WHERE",
	  "CREATE TABLE t (id int PRIMARY KEY, s text, b int);\n",
	  "INSERT INTO t SELECT g, 's' || g, g FROM generate_series(1, 500) g",
	  "CREATE INDEX ON t (s text_pattern_ops, (lower(s)) DESC NULLS LAST) INCLUDE (b)"
	  " WHERE b > 10;\n"
	  "CREATE UNIQUE INDEX \"T s C\" ON t (s COLLATE \"C\") NULLS NOT DISTINCT;\n",
	  { "create-index-concurrently" } },
	{ "required column IF NOT EXISTS of an existing column runs as written", T, T_ROWS,
	  "ALTER TABLE t ADD COLUMN IF NOT EXISTS a int NOT NULL;\n", { "as-written" } },
	{ "volatile default with NOT NULL, comment and column grant", T, T_ROWS,
	  "ALTER TABLE t ADD COLUMN \"Token\" text NOT NULL DEFAULT md5(random()::text);\n"
	  "COMMENT ON COLUMN t.\"Token\" IS 'per row';\n"
	  "GRANT SELECT (\"Token\") ON t TO PUBLIC;\n",
	  { "add-column-volatile-default" } },
	{ "rename table keeps grants, comments and policies", T
	  "GRANT SELECT, UPDATE ON t TO PUBLIC;\nCOMMENT ON TABLE t IS 'rows';\n"
	  "ALTER TABLE t ENABLE ROW LEVEL SECURITY;\n"
	  "CREATE POLICY own ON t USING (a > 100);\n", T_ROWS,
	  "ALTER TABLE t RENAME TO \"Renamed T\";\n", { "rename-table-via-view" } },
};

static char *audit_dir(const char *create, const char *change)
{
	char *dir = th_tmpdir();

	th_write(dir, "m/001_create.sql", create);
	th_write(dir, "m/002_change.sql", change);
	th_write(dir, "pgphase.cfg", "lock_timeout = \"1s\";\nbackfill = { batch_size = 100; };\n");
	return dir;
}

START_TEST(test_audit_like_psql)
{
	const struct audit_case *c = &cases[_i];
	const char *files[] = { "001_create.sql", "002_change.sql" };
	char *dir, *err;

	fx_private_binary();
	dir = audit_dir(c->create, c->change);
	err = eq_migrate_like_psql(dir, files, 2, c->data, c->plan);
	free(err);
	free(dir);
}
END_TEST

/*
 * Between expand and contract the old name is a view: a role the table was granted to reads
 * through it, and row-level security still filters what it sees (security_invoker).
 */
START_TEST(test_rename_view_privileges_and_rls)
{
	char *role = NULL, *create = NULL, *grant = NULL, *q = NULL, *drop = NULL, *dir;
	const char *expand[] = { "expand", NULL }, *to1[] = { "migrate", "--to", "1", NULL };
	const char *migrate[] = { "migrate", NULL };
	PGconn *c;
	PGresult *r;

	fx_private_binary();
	if (asprintf(&role, "%s_app", th_dbname()) < 0 ||
	    asprintf(&create, "CREATE ROLE \"%s\" LOGIN", role) < 0 ||
	    asprintf(&grant, "GRANT SELECT ON t TO \"%s\"", role) < 0 ||
	    asprintf(&drop, "DROP OWNED BY \"%s\"; DROP ROLE \"%s\"", role, role) < 0 ||
	    asprintf(&q, "SET ROLE \"%s\"; SELECT count(*) FROM t", role) < 0)
		ck_abort();
	th_exec(create);
	dir = audit_dir(T "ALTER TABLE t ENABLE ROW LEVEL SECURITY;\n"
			  "CREATE POLICY own ON t USING (a > 100);\n",
			"ALTER TABLE t RENAME TO t_new;\n");
	ck_assert_int_eq(eq_pgphase_deadline(dir, to1, 60000, NULL), 0);
	th_exec(T_ROWS);
	th_exec(grant);
	ck_assert_int_eq(eq_pgphase_deadline(dir, expand, 60000, NULL), 0);
	{
		char *kind = th_value("SELECT relkind::text FROM pg_class WHERE relname = 't'");

		ck_assert_str_eq(kind, "v");
		free(kind);
	}
	c = th_connect();
	r = PQexec(c, q);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "the old app cannot read the old "
		      "name: %s", PQerrorMessage(c));
	ck_assert_str_eq(PQgetvalue(r, 0, 0), "400"); /* the policy's 400 rows, not 500 */
	PQclear(r);
	PQfinish(c);
	ck_assert_int_eq(eq_pgphase_deadline(dir, migrate, 60000, NULL), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 't'"), 0);
	th_exec(drop);
	free(role);
	free(create);
	free(grant);
	free(drop);
	free(q);
	free(dir);
}
END_TEST

Suite *strategies_audit_suite(void)
{
	Suite *s = suite_create("strategies_audit");
	TCase *tc = th_db_tcase("like-psql");
	TCase *view = th_db_tcase("rename-view");

	tcase_add_loop_test(tc, test_audit_like_psql, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(view, test_rename_view_privileges_and_rls);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, view);
	return s;
}
