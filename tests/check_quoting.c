/*
 * Names as real schemas write them (issue 14, item 1): mixed case (Prisma quotes every
 * name), spaces and double quotes inside names, unicode, schemas other than public, names
 * longer than 63 bytes, and names that collide with existing objects.  Each case migrates
 * with pgphase and with psql -1 (tests/strategies/equiv.h) and the schemas must be equal;
 * a run that hangs fails after 60 s instead of stalling the suite.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "strategies/equiv.h"

#define T "CREATE TABLE t (id int PRIMARY KEY, a int, b int);\n"
#define T_ROWS "INSERT INTO t SELECT g, g, g FROM generate_series(1, 500) g"
#define P "CREATE TABLE p (id int PRIMARY KEY);\n"
#define LONG_T "a_table_whose_name_is_quite_long_enough_to_need_clipping_xyzw"
#define UNI_T "Tåble_ünïcødé_with_a_lông_nàme_thät_nêeds_clippïng"

struct quoting_case {
	const char *what;
	const char *create; /* 001 */
	const char *data;   /* after 001, on both databases */
	const char *change; /* 002 */
	const char *strategies[4]; /* `plan` names them: the rewrite happened */
};

static const struct quoting_case cases[] = {
	{ "mixed-case index", T, T_ROWS, "CREATE INDEX \"MyIdx\" ON t (a);\n",
	  { "create-index-concurrently" } },
	{ "mixed-case unique constraint (Prisma)", T, T_ROWS,
	  "ALTER TABLE t ADD CONSTRAINT \"Uq\" UNIQUE (b);\n",
	  { "add-unique-using-index" } },
	{ "index name with a space and a double quote", T, T_ROWS,
	  "CREATE INDEX \"my \"\"odd\"\" idx\" ON t (b);\n",
	  { "create-index-concurrently" } },
	{ "quoted schema, table and columns", "CREATE SCHEMA \"App\";\n"
	  "CREATE TABLE \"App\".\"My Table\" (\"Id\" int PRIMARY KEY, \"Col A\" int, \"Col B\" text);\n",
	  "INSERT INTO \"App\".\"My Table\" SELECT g, g, 'x' FROM generate_series(1, 300) g",
	  "CREATE INDEX \"Idx A\" ON \"App\".\"My Table\" (\"Col A\") INCLUDE (\"Col B\")"
	  " WHERE \"Col A\" > 0;\n"
	  "ALTER TABLE \"App\".\"My Table\" ALTER COLUMN \"Col B\" SET NOT NULL;\n"
	  "ALTER TABLE \"App\".\"My Table\" ADD CONSTRAINT \"Ck A\" CHECK (\"Col A\" > 0);\n",
	  { "create-index-concurrently", "set-not-null-via-check", "add-check-not-valid" } },
	{ "mixed-case foreign key", P T, "INSERT INTO p SELECT g FROM generate_series(1, 500) g; " T_ROWS,
	  "ALTER TABLE t ADD CONSTRAINT \"FK_t_p\" FOREIGN KEY (a) REFERENCES p (id)"
	  " ON DELETE CASCADE;\n",
	  { "add-foreign-key-not-valid" } },
	{ "mixed-case check", T, T_ROWS, "ALTER TABLE t ADD CONSTRAINT \"CK Positive\" CHECK (a > 0);\n",
	  { "add-check-not-valid" } },
	{ "set not null on mixed-case names",
	  "CREATE TABLE \"Users\" (\"Id\" int PRIMARY KEY, \"Email\" text);\n",
	  "INSERT INTO \"Users\" SELECT g, 'u' || g FROM generate_series(1, 300) g",
	  "ALTER TABLE \"Users\" ALTER COLUMN \"Email\" SET NOT NULL;\n",
	  { "set-not-null-via-check" } },
	{ "required column on mixed-case names",
	  "CREATE TABLE \"Users\" (\"Id\" int PRIMARY KEY, \"Email\" text);\n", NULL,
	  "ALTER TABLE \"Users\" ADD COLUMN \"Role Name\" text NOT NULL;\n",
	  { "add-required-column" } },
	{ "generated names longer than 63 bytes",
	  "CREATE TABLE " LONG_T " (id int PRIMARY KEY, a_long_column_name_too int);\n",
	  "INSERT INTO " LONG_T " SELECT g, g FROM generate_series(1, 300) g",
	  "CREATE INDEX ON " LONG_T " (a_long_column_name_too);\n"
	  "ALTER TABLE " LONG_T " ADD CHECK (a_long_column_name_too > 0);\n"
	  "ALTER TABLE " LONG_T " ALTER COLUMN a_long_column_name_too SET NOT NULL;\n",
	  { "create-index-concurrently", "add-check-not-valid", "set-not-null-via-check" } },
	{ "unicode names clipped on a character boundary",
	  "CREATE TABLE \"" UNI_T "\" (id int PRIMARY KEY, \"çølümn_ñame\" int);\n",
	  "INSERT INTO \"" UNI_T "\" SELECT g, g FROM generate_series(1, 300) g",
	  "CREATE INDEX ON \"" UNI_T "\" (\"çølümn_ñame\");\n"
	  "ALTER TABLE \"" UNI_T "\" ADD FOREIGN KEY (\"çølümn_ñame\") REFERENCES \"" UNI_T
	  "\" (id);\n",
	  { "create-index-concurrently", "add-foreign-key-not-valid" } },
	{ "unnamed check over two columns is <table>_check", T, T_ROWS,
	  "ALTER TABLE t ADD CHECK (a <= b);\n",
	  { "add-check-not-valid" } },
	{ "unnamed index whose default name is taken", T "CREATE INDEX t_a_idx ON t (b);\n", T_ROWS,
	  "CREATE INDEX ON t (a);\n",
	  { "create-index-concurrently" } },
	{ "unnamed foreign key whose default name is taken",
	  P T "ALTER TABLE t ADD CONSTRAINT t_a_fkey FOREIGN KEY (b) REFERENCES p (id);\n",
	  "INSERT INTO p SELECT g FROM generate_series(1, 500) g; " T_ROWS,
	  "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES p (id);\n",
	  { "add-foreign-key-not-valid" } },
	{ "keyword as an index name", T, T_ROWS, "CREATE INDEX \"select\" ON t (a);\n",
	  { "create-index-concurrently" } },
};

static char *case_dir(const char *create, const char *change)
{
	char *dir = th_tmpdir();

	th_write(dir, "m/001_create.sql", create);
	if (change)
		th_write(dir, "m/002_change.sql", change);
	th_write(dir, "pgphase.cfg", "lock_timeout = \"1s\";\n"
				     "backfill = { batch_size = 100; };\n");
	return dir;
}

START_TEST(test_like_psql)
{
	const struct quoting_case *c = &cases[_i];
	const char *files[] = { "001_create.sql", "002_change.sql" };
	char *dir, *err;

	fx_private_binary();
	dir = case_dir(c->create, c->change);
	err = eq_migrate_like_psql(dir, files, 2, c->data, c->strategies);
	free(err);
	free(dir);
}
END_TEST

/* plan: every name quoted as written */
START_TEST(test_plan_quotes_names)
{
	char *dir = case_dir(T, "CREATE INDEX \"MyIdx\" ON t (a);\n"
				"ALTER TABLE t ADD CONSTRAINT \"Uq\" UNIQUE (b);\n"
				"ALTER TABLE t ADD CONSTRAINT \"FkX\" FOREIGN KEY (a) REFERENCES t;\n"
				"ALTER TABLE t ADD CONSTRAINT \"Ck\" CHECK (a > 0);\n");
	struct th_run r;

	fx_private_binary();
	fx_pgphase(&r, dir, "migrate", "--to", "1");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	fx_pgphase(&r, dir, "plan");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "CREATE INDEX CONCURRENTLY IF NOT EXISTS \"MyIdx\" ON t");
	th_assert_contains(r.out, "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"Uq\" ON t");
	th_assert_contains(r.out, "ADD CONSTRAINT \"Uq\" UNIQUE USING INDEX \"Uq\"");
	th_assert_contains(r.out, "ADD CONSTRAINT \"FkX\" FOREIGN KEY (a)");
	th_assert_contains(r.out, "ADD CONSTRAINT \"Ck\" CHECK (a > 0) NOT VALID");
	th_run_release(&r);
	free(dir);
}
END_TEST

/* Rollback after expand leaves no constraint behind, whatever its name's case. */
START_TEST(test_rollback_mixed_case)
{
	char *dir = case_dir(P T, "ALTER TABLE t ADD CONSTRAINT \"FK_t_p\" FOREIGN KEY (a)"
				  " REFERENCES p (id);\n"
				  "ALTER TABLE t ADD CONSTRAINT \"CK_a\" CHECK (a > 0);\n"
				  "ALTER TABLE t ALTER COLUMN \"b\" SET NOT NULL;\n");
	const char *expand[] = { "expand", NULL }, *rollback[] = { "rollback", NULL };
	char *err;

	fx_private_binary();
	ck_assert_int_eq(eq_pgphase_deadline(dir, (const char *const[]){ "migrate", "--to", "1",
									  NULL }, 60000, NULL), 0);
	ck_assert_int_eq(eq_pgphase_deadline(dir, expand, 60000, &err), 0);
	free(err);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass"
				 " AND contype IN ('f', 'c')"), 3);
	ck_assert_int_eq(eq_pgphase_deadline(dir, rollback, 60000, &err), 0);
	free(err);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass"
				 " AND contype IN ('f', 'c')"), 0);
	free(dir);
}
END_TEST

/* A name taken by a table, or by an index of another table: exit 2 at plan time, nothing
 * changed, no loop. */
START_TEST(test_collision_at_plan_time)
{
	static const char *const changes[] = {
		"CREATE INDEX \"Other\" ON t (a);\n",
		"CREATE INDEX \"OtherIdx\" ON t (a);\n",
		"ALTER TABLE t ADD CONSTRAINT \"Other\" UNIQUE (a);\n",
	};

	fx_private_binary();
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		char *dir = case_dir(T "CREATE TABLE \"Other\" (x int);\n"
				       "CREATE INDEX \"OtherIdx\" ON \"Other\" (x);\n", changes[i]);
		const char *migrate[] = { "migrate", NULL };
		char *err;

		ck_assert_int_eq(eq_pgphase_deadline(dir, (const char *const[]){ "migrate", "--to", "1",
										  NULL }, 60000, NULL), 0);
		ck_assert_int_eq(eq_pgphase_deadline(dir, migrate, 30000, &err), 2);
		th_assert_contains(err, "002_change.sql:1:1");
		th_assert_contains(err, "already exists");
		ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE version = 2"),
				 0);
		free(err);
		fx_reset();
		free(dir);
	}
}
END_TEST

/* A collision the plan cannot see (an earlier pending migration creates the name): a clear
 * error at run time, not a loop. */
START_TEST(test_collision_at_run_time)
{
	char *dir = case_dir(T, "CREATE TABLE \"Foo\" (x int);\n");
	const char *migrate[] = { "migrate", NULL };
	char *err;
	int st;

	fx_private_binary();
	th_write(dir, "m/003_index.sql", "CREATE INDEX \"Foo\" ON t (a);\n");
	ck_assert_int_eq(eq_pgphase_deadline(dir, (const char *const[]){ "migrate", "--to", "1",
									  NULL }, 60000, NULL), 0);
	th_exec(T_ROWS);
	st = eq_pgphase_deadline(dir, migrate, 30000, &err);
	ck_assert_msg(st == 1 || st == 2, "expected a failure, got exit %d:\n%s", st, err);
	th_assert_contains(err, "003_index.sql:1:1");
	th_assert_contains(err, "\"Foo\"");
	th_assert_contains(err, "exists");
	free(err);
	free(dir);
}
END_TEST

Suite *quoting_suite(void)
{
	Suite *s = suite_create("quoting");
	TCase *tc = th_db_tcase("like-psql");
	TCase *other = th_db_tcase("names");

	tcase_add_loop_test(tc, test_like_psql, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(other, test_plan_quotes_names);
	tcase_add_test(other, test_rollback_mixed_case);
	tcase_add_test(other, test_collision_at_plan_time);
	tcase_add_test(other, test_collision_at_run_time);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, other);
	return s;
}
