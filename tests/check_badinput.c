/*
 * Bad inputs not covered elsewhere in the catalogue (README "Bad input"): each gets a clear
 * one-line error, the documented exit code, and no change to the database.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define RUN(r, dir, ...) th_pgphase((r), (dir), __VA_ARGS__, NULL)

static void expect(const char *dir, int code, const char *needle, const char *const *args)
{
	struct th_run r;
	const char *argv[32];
	int n = 0;

	argv[n++] = "-d";
	argv[n++] = th_conninfo();
	if (dir) {
		argv[n++] = "-m";
		argv[n++] = dir;
	}
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	th_cli(&r, NULL, NULL, argv);
	th_assert_exit(&r, code);
	th_assert_contains(r.err, needle);
	th_run_release(&r);
}

#define EXPECT(dir, code, needle, ...)                                                        \
	do {                                                                                   \
		const char *a_[] = { __VA_ARGS__, NULL };                                      \
		expect((dir), (code), (needle), a_);                                           \
	} while (0)

static void assert_untouched(void)
{
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);
}

START_TEST(files_refused_before_any_change)
{
	char *d = th_tmpdir();

	th_write(d, "001_a.sql", "CREATE TABLE a (x int);\n");
	th_write(d, "002_b.down.sql", "DROP TABLE b;\n");
	EXPECT(d, 2, "002_b.down.sql:1: down file without a matching .up.sql", "migrate");
	assert_untouched();
	free(d);

	d = th_tmpdir();
	th_write(d, "001_a.up.sql", "CREATE TABLE a (x int);\n-- DOWN\nDROP TABLE a;\n");
	th_write(d, "001_a.down.sql", "DROP TABLE a;\n");
	EXPECT(d, 2, "001_a.up.sql:2:1: section marker \"-- DOWN\" in a .up.sql/.down.sql pair file", "migrate");
	assert_untouched();
	free(d);

	d = th_tmpdir();
	th_write(d, "001_a.sql", "CREATE TABLE a (x int);\n");
	th_write(d, "002_b.sql", "CREATE TABLE b (x int);\nCREATE TABLEX c (x int);\n");
	EXPECT(d, 2, "002_b.sql:2:8: syntax error at or near \"TABLEX\"", "migrate");
	assert_untouched(); /* 001 was valid but nothing ran: every file is checked first */
	free(d);

	d = th_tmpdir();
	th_write(d, "001_a.sql", "CREATE TABLE a (x int);\nCOPY a FROM STDIN;\n");
	EXPECT(d, 1, "COPY FROM STDIN", "migrate");
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE tablename = 'a'"), 0);
	free(d);
}
END_TEST

/*
 * Several problems in one directory: every command that changes the database names each one
 * as file:line (not only the first), exits 2, and changes nothing.
 */
START_TEST(every_problem_named_nothing_changed)
{
	static const char *const needles[] = {
		"002create.sql:1: malformed migration file name",
		"1_dup.sql:1: duplicate migration version 1",
		"003_dir.sql:2:1: unknown directive \"-- pgphase:frobnicate\"",
		"004_syntax.sql:2:8: syntax error at or near \"TABLEX\"",
		"004_syntax.sql:4:1: syntax error at or near \"SELEC\"",
		"005_dangle.sql:2:1: directive is not followed by a statement",
		"006_empty.sql:1: migration has no statements in its UP section",
	};
	static const char *const commands[] = { "migrate", "expand", "backfill", "rollback" };
	char *d = th_tmpdir();

	th_write(d, "001_a.sql", "CREATE TABLE a (x int);\n");
	th_write(d, "1_dup.sql", "CREATE TABLE dup (x int);\n");
	th_write(d, "002create.sql", "CREATE TABLE c (x int);\n");
	th_write(d, "003_dir.sql", "CREATE TABLE d (x int);\n-- pgphase:frobnicate\nSELECT 1;\n");
	th_write(d, "004_syntax.sql", "CREATE TABLE s (x int);\nCREATE TABLEX t (x int);\n"
				      "CREATE TABLE u (x int);\nSELEC 1;\n");
	th_write(d, "005_dangle.sql", "CREATE TABLE g (x int);\n-- pgphase:as-is\n");
	th_write(d, "006_empty.sql", "-- UP\n-- nothing yet\n-- DOWN\nSELECT 1;\n");
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		struct th_run r;

		RUN(&r, d, commands[c]);
		th_assert_exit(&r, 2);
		for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
			th_assert_contains(r.err, needles[i]);
		th_run_release(&r);
		assert_untouched(); /* no state schema, no table: nothing ran */
	}
	free(d);
}
END_TEST

START_TEST(rollback_inputs)
{
	char *d = th_tmpdir();
	struct th_run r;

	th_write(d, "001_a.sql", "CREATE TABLE a (x int);\n-- DOWN\nSAVEPOINT s;\nDROP TABLE a;\n");
	th_write(d, "002_b.sql", "CREATE TABLE b (x int);\n-- DOWN\nDROP TABLE b;\n");
	RUN(&r, d, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	EXPECT(d, 2, "001_a.sql:3:1: SAVEPOINT in a migration", "rollback", "--to", "0");
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 2);
	/* an applied file that vanished */
	th_write(d, "keep", "");
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/002_b.sql", d);
		unlink(path);
	}
	EXPECT(d, 2, "002_b.sql: applied migration file is missing", "rollback");
	EXPECT(d, 2, "applied migration file is missing", "migrate");
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE tablename = 'b'"), 1);
	free(d);
}
END_TEST

START_TEST(flag_and_config_inputs)
{
	char *d = th_tmpdir();

	th_write(d, "001_a.sql", "CREATE TABLE a (x int);\n");
	EXPECT(d, 2, "--format: unknown format \"yaml\"", "status", "--format", "yaml");
	EXPECT(d, 2, "--lock-wait: expected seconds, got \"soon\"", "migrate", "--lock-wait", "soon");
	EXPECT(d, 2, "--limit: expected an integer >= 1", "history", "--limit", "0");
	EXPECT(d, 2, "--to: \"abc\" is not a version", "migrate", "--to", "abc");
	EXPECT(d, 2, "cannot read config file \"/nonexistent.cfg\"", "-c", "/nonexistent.cfg", "status");
	EXPECT(d, 2, "option \"--to\" needs a value", "migrate", "--to");
	EXPECT(d, 2, "migration name \"a/b\" may hold only", "new", "a/b");
	assert_untouched();
	free(d);
}
END_TEST

START_TEST(state_schema_from_the_future)
{
	char *d = th_tmpdir();
	struct th_run r;

	th_write(d, "001_a.sql", "CREATE TABLE a (x int);\n");
	{
		/* init writes ./pgphase.cfg: run it inside the temporary directory */
		const char *a[] = { "-d", th_conninfo(), "-m", d, "init", NULL };

		th_cli(&r, d, NULL, a);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	th_exec("UPDATE pgphase.meta SET value = '999' WHERE key = 'schema_version'");
	EXPECT(d, 2, "newer than this pgphase understands", "migrate");
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE tablename = 'a'"), 0);
	free(d);
}
END_TEST

Suite *badinput_suite(void)
{
	Suite *s = suite_create("badinput");
	TCase *tc = th_db_tcase("badinput");

	tcase_add_test(tc, files_refused_before_any_change);
	tcase_add_test(tc, every_problem_named_nothing_changed);
	tcase_add_test(tc, rollback_inputs);
	tcase_add_test(tc, flag_and_config_inputs);
	tcase_add_test(tc, state_schema_from_the_future);
	suite_add_tcase(s, tc);
	return s;
}
