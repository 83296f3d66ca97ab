/*
 * Rollback of complete migrations by their DOWN sections, against psql (issue 15, item 1):
 * after `pgphase migrate`, the DOWN statements must find what psql's UP left, so that
 * `pgphase rollback` gets exactly as far as psql running the DOWN files newest first, and
 * ends in psql's schema.  Each case is one cause found on the real directories of
 * tests/realdirs (rollback.sh) and tests/check_realdirs.c; each failed before its fix.
 * Rollback of migrations that are not complete is tested elsewhere (check_rollback_*).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define RUN(r, dir, ...) th_pgphase((r), (dir), __VA_ARGS__, NULL)

/* psql runs name from dir on db; the test fails when it does not. */
static void psql_ok(const char *db, const char *dir, const char *name)
{
	char *path, *out = NULL;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	ck_assert_msg(th_psql_file(db, path, &out) == 0, "psql %s: %s", name, out ? out : "");
	free(out);
	free(path);
}

/*
 * An empty DOWN (a .down.sql holding only comments, "-- DOWN" with nothing under it) is
 * how golang-migrate, goose, diesel and popx directories say "nothing to undo" (a data
 * backfill): their tools run it as a no-op.  pgphase refused the whole rollback ("migration
 * has no DOWN section", nothing rolled back): openmeter's chain stopped at 0 of 269, kratos'
 * and crates.io's at their newest empty DOWN.  A migration without any DOWN is still
 * refused.
 */
START_TEST(empty_down_is_nothing_to_undo)
{
	struct th_run r;
	char *dir = th_tmpdir(), *oracle = th_tmpdir(), *db_psql = th_extra_db("psql");

	th_write(dir, "001_t.sql", "CREATE TABLE \"Acct\" (id int PRIMARY KEY, \"Note\" text);\n"
				   "INSERT INTO \"Acct\" VALUES (1, NULL), (2, 'x');\n");
	th_write(dir, "002_fill.up.sql",
		 "UPDATE \"Acct\" SET \"Note\" = 'n/a' WHERE \"Note\" IS NULL;\n");
	th_write(dir, "002_fill.down.sql", "-- data only: nothing to undo\n");
	th_write(dir, "003_fill_again.sql",
		 "-- UP\nUPDATE \"Acct\" SET \"Note\" = upper(\"Note\");\n-- DOWN\n");
	th_write(dir, "004_other.up.sql",
		 "CREATE TABLE app.\"Other T\" (id int REFERENCES \"Acct\");\n");
	th_write(dir, "004_other.down.sql", "DROP TABLE app.\"Other T\";\n");
	th_write(oracle, "001.sql", "CREATE TABLE \"Acct\" (id int PRIMARY KEY, \"Note\" text);\n");
	th_exec("CREATE SCHEMA app");
	psql_ok(db_psql, oracle, "001.sql");

	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	/* 001 has no DOWN at all: still refused, nothing rolled back */
	RUN(&r, dir, "rollback", "--to", "0");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "001_t.sql:1: cannot roll back: migration has no DOWN section");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 4);
	/* down to 001: 004 drops its table, 003 and 002 undo nothing (and say so) */
	RUN(&r, dir, "rollback", "--to", "1");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "003_fill_again.sql: the DOWN section has no statements");
	th_assert_contains(r.err, "002_fill.down.sql: the DOWN section has no statements");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 1);
	th_exec("DROP SCHEMA app");
	th_assert_same_schema(db_psql, th_dbname());
	ck_assert_int_eq(th_long("SELECT count(*) FROM \"Acct\" WHERE \"Note\" IN ('N/A', 'X')"),
			 2);
	free(db_psql);
	free(oracle);
	free(dir);
}
END_TEST

Suite *rollback_down_suite(void)
{
	Suite *s = suite_create("rollback_down");
	TCase *tc = th_db_tcase("rollback_down");

	tcase_add_test(tc, empty_down_is_nothing_to_undo);
	suite_add_tcase(s, tc);
	return s;
}
