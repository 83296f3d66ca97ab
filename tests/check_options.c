/*
 * The option table (src/base/options.c) through the pgphase command against the real server:
 * precedence flag > environment > config file > default for every kind of setting, decided
 * by whether the flag was given (bug 3: a flag equal to its default lost to the config
 * file), each command's --help listing every option the table gives it, and the README's
 * option lists equal to what the table generates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "base/options.h"

/* pgphase in dir (where pgphase.cfg is) with an optional environment. */
static void run_in(struct th_run *r, const char *dir, const char *const *env,
		   const char *const *argv)
{
	th_cli(r, dir, env, argv);
}

/* dir/pgphase.cfg: the test database, migrations in dir/m, and `extra` settings */
static void write_cfg(const char *dir, const char *extra)
{
	char body[2048];

	snprintf(body, sizeof(body), "database = \"%s\";\nmigrations = \"m\";\n%s", th_conninfo(),
		 extra);
	th_write(dir, "pgphase.cfg", body);
}

static void fill_table(const char *name, int rows)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "CREATE TABLE %s (id bigint PRIMARY KEY, old int NOT NULL, new int);"
		 "INSERT INTO %s (id, old) SELECT g, g FROM generate_series(1, %d) g", name, name,
		 rows);
	th_exec(sql);
}

static long batches_of(int version)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT coalesce(sum(batches), 0) "
		 "FROM pgphase.backfill_progress WHERE version = %d", version);
	return th_long(sql);
}

/* Bug 3: backfill = { batch_size = 100; } and --batch-size 1000 (the default) ran 100-row
 * batches while --batch-size 999 ran 999-row ones. */
START_TEST(flag_equal_to_default_beats_config)
{
	char *dir = th_tmpdir();
	struct th_run r;

	fill_table("t1", 3000);
	fill_table("t2", 3000);
	fill_table("t3", 3000);
	th_write(dir, "m/001_t1.sql", "UPDATE t1 SET new = old + 1 WHERE new IS NULL;\n");
	th_write(dir, "m/002_t2.sql", "UPDATE t2 SET new = old + 1 WHERE new IS NULL;\n");
	th_write(dir, "m/003_t3.sql", "UPDATE t3 SET new = old + 1 WHERE new IS NULL;\n");
	write_cfg(dir, "backfill = { batch_size = 100; };\n");
	{
		const char *a[] = { "backfill", "--to", "1", "--batch-size", "1000", NULL };

		run_in(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	ck_assert_int_eq(th_long("SELECT count(*) FROM t1 WHERE new = old + 1"), 3000);
	/* 3000 rows in batches of 1000 (a chunk's short tail may add one or two), not 30 */
	ck_assert_msg(batches_of(1) >= 3 && batches_of(1) <= 6,
		      "--batch-size 1000 ran %ld batches for 3000 rows", batches_of(1));
	/* a value other than the default, as before */
	{
		const char *a[] = { "backfill", "--to", "2", "--batch-size", "999", NULL };

		run_in(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	ck_assert_msg(batches_of(2) >= 4 && batches_of(2) <= 7,
		      "--batch-size 999 ran %ld batches for 3000 rows", batches_of(2));
	/* without the flag the file's 100 applies */
	{
		const char *a[] = { "backfill", NULL };

		run_in(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	ck_assert_msg(batches_of(3) >= 30, "config batch_size 100 ran %ld batches for 3000 rows",
		      batches_of(3));
	free(dir);
}
END_TEST

/* The same bug for other backfill settings: --max-rows-per-second 0 (the default: no limit)
 * must beat the file's 100 rows per second, which would take 30 s for these 3000 rows. */
START_TEST(flag_default_beats_config_throttle)
{
	char *dir = th_tmpdir();
	struct th_run r;
	time_t t0;

	fill_table("t1", 3000);
	th_write(dir, "m/001_t1.sql", "UPDATE t1 SET new = old + 1 WHERE new IS NULL;\n");
	write_cfg(dir, "backfill = { max_rows_per_second = 100; sleep = \"2s\"; workers = 2; };\n");
	t0 = time(NULL);
	{
		const char *a[] = { "backfill", "--max-rows-per-second", "0", "--sleep", "0ms",
				    "--batch-size", "1000", NULL };

		run_in(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	ck_assert_msg(time(NULL) - t0 < 10, "the backfill took %ld s: the file's throttle applied",
		      (long)(time(NULL) - t0));
	ck_assert_int_eq(th_long("SELECT count(*) FROM t1 WHERE new = old + 1"), 3000);
	free(dir);
}
END_TEST

/* database: -d > $DATABASE_URL > config; the error names the database that was used */
START_TEST(database_precedence)
{
	char *dir = th_tmpdir(), cfg[512], env_url[512];
	const char *env[] = { env_url, NULL };
	struct th_run r;

	th_write(dir, "m/001_a.sql", "CREATE TABLE a (x int);\n");
	snprintf(cfg, sizeof(cfg), "database = \"host=%s port=%s dbname=from_cfg\";\n"
		 "migrations = \"m\";\n", getenv("PGHOST"), getenv("PGPORT"));
	th_write(dir, "pgphase.cfg", cfg);
	snprintf(env_url, sizeof(env_url), "DATABASE_URL=host=%s port=%s dbname=from_env",
		 getenv("PGHOST"), getenv("PGPORT"));
	{
		const char *a[] = { "status", NULL };

		run_in(&r, dir, NULL, a);
		th_assert_exit(&r, 3);
		th_assert_contains(r.err, "database \"from_cfg\" does not exist");
		th_run_release(&r);
		run_in(&r, dir, env, a);
		th_assert_exit(&r, 3);
		th_assert_contains(r.err, "database \"from_env\" does not exist");
		th_run_release(&r);
	}
	{
		const char *a[] = { "status", "-d", th_conninfo(), NULL };

		run_in(&r, dir, env, a);
		th_assert_exit(&r, 0);
		th_assert_contains(r.out, th_dbname());
		th_run_release(&r);
	}
	free(dir);
}
END_TEST

/* lock_timeout: --lock-timeout 1s (the default) beats the file's 250ms; the session's setting
 * is what the migration sees */
START_TEST(lock_timeout_precedence)
{
	char *dir = th_tmpdir();
	struct th_run r;

	th_write(dir, "m/001_a.sql",
		 "CREATE TABLE seen1 AS SELECT current_setting('lock_timeout') AS v;\n");
	th_write(dir, "m/002_b.sql",
		 "CREATE TABLE seen2 AS SELECT current_setting('lock_timeout') AS v;\n");
	write_cfg(dir, "lock_timeout = \"250ms\";\n");
	{
		const char *a[] = { "migrate", "--to", "1", "--lock-timeout", "1s", NULL };

		run_in(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	{
		const char *a[] = { "migrate", NULL };

		run_in(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	{
		char *seen1 = th_value("SELECT v FROM seen1"), *seen2 = th_value("SELECT v FROM seen2");

		ck_assert_str_eq(seen1, "1s");
		ck_assert_str_eq(seen2, "250ms");
		free(seen1);
		free(seen2);
	}
	free(dir);
}
END_TEST

/* --lock-wait 0 (the default) beats the file's lock_wait = "30s"; --module default beats the
 * file's module */
START_TEST(lock_wait_and_module_precedence)
{
	char *dir = th_tmpdir();
	PGconn *holder = th_connect();
	PGresult *res;
	struct th_run r;
	time_t t0;

	th_write(dir, "m/001_a.sql", "CREATE TABLE a (x int);\n");
	write_cfg(dir, "lock_wait = \"30s\";\nmodule = \"fromfile\";\n");
	res = PQexec(holder, "SELECT pg_advisory_lock(1885827176, hashtext('pgphase/default'))");
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	t0 = time(NULL);
	{
		const char *a[] = { "migrate", "--module", "default", "--lock-wait", "0", NULL };

		run_in(&r, dir, NULL, a);
		th_assert_exit(&r, 4);
		th_assert_contains(r.err, "module \"default\"");
		th_run_release(&r);
	}
	ck_assert_msg(time(NULL) - t0 < 10, "--lock-wait 0 waited %ld s", (long)(time(NULL) - t0));
	/* the file's module is not locked: it runs */
	{
		const char *a[] = { "migrate", NULL };

		run_in(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations "
				 "WHERE module = 'fromfile'"), 1);
	{
		const char *a[] = { "status", "--module", "default", "--format", "json", NULL };

		run_in(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_assert_contains(r.out, "\"module\": \"default\"");
		th_run_release(&r);
	}
	PQfinish(holder);
	free(dir);
}
END_TEST

/* A flag's value is checked against the table's range, like the file's */
START_TEST(flag_values_checked)
{
	struct th_run r;
	static const char *const bad[][3] = {
		{ "--batch-size", "0", "--batch-size: expected an integer >= 1, got \"0\"" },
		{ "--workers", "65", "--workers: expected an integer from 1 to 64, got \"65\"" },
		{ "--sleep", "soon", "--sleep: expected milliseconds, got \"soon\"" },
		{ "--lock-wait", "-1", "--lock-wait: expected seconds, got \"-1\"" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a[] = { "backfill", bad[i][0], bad[i][1], NULL };

		run_in(&r, NULL, NULL, a);
		th_assert_exit(&r, 2);
		th_assert_contains(r.err, bad[i][2]);
		th_run_release(&r);
	}
	/* --lock-wait: a bare number is seconds, a unit may be given */
	{
		const char *a[] = { "-m", "/nonexistent", "status", "--lock-wait", "500ms", NULL };

		run_in(&r, NULL, NULL, a);
		th_assert_exit(&r, 2);
		th_assert_not_contains(r.err, "lock-wait");
		th_run_release(&r);
	}
}
END_TEST

/* Every command's --help lists every option the table gives it, with its help and default;
 * `pgphase --help` lists the commands and the global options. */
START_TEST(help_lists_every_option)
{
	struct th_run r;
	char def[128];

	for (int c = 0; c < PGPHASE_CMD_COUNT; c++) {
		const char *a[] = { pgphase_commands[c].name, "--help", NULL };

		run_in(&r, NULL, NULL, a);
		th_assert_exit(&r, 0);
		th_assert_contains(r.out, "usage: pgphase [global options] ");
		th_assert_contains(r.out, pgphase_commands[c].summary);
		for (int i = 0; i < PGOPT_COUNT; i++) {
			const struct pgphase_option *o = &pgphase_options[i];
			char flag[64];

			if (!o->flag || !(o->commands & PGPHASE_CMD_BIT(c)))
				continue;
			snprintf(flag, sizeof(flag), "--%s", o->flag);
			th_assert_contains(r.out, flag);
			th_assert_contains(r.out, o->help);
			if (o->def) {
				snprintf(def, sizeof(def), o->type == PGOPT_T_STRING ?
					 "(default \"%s\")" : "(default %s)", o->def);
				th_assert_contains(r.out, def);
			}
			if (o->key)
				th_assert_contains(r.out, o->key);
		}
		th_run_release(&r);
	}
	{
		const char *a[] = { "--help", NULL };

		run_in(&r, NULL, NULL, a);
		th_assert_exit(&r, 0);
		for (int c = 0; c < PGPHASE_CMD_COUNT; c++)
			th_assert_contains(r.out, pgphase_commands[c].name);
		th_assert_contains(r.out, "--lock-timeout DURATION");
		th_assert_contains(r.out, "(default 1s)");
		th_assert_contains(r.out, "env: $DATABASE_URL");
		th_assert_not_contains(r.out, "--batch-size");
		th_run_release(&r);
	}
	{
		const char *a[] = { "--help=html", NULL };

		run_in(&r, NULL, NULL, a);
		th_assert_exit(&r, 2);
		th_run_release(&r);
	}
}
END_TEST

/* The README's lists between "<!-- pgphase --help=F -->" and "<!-- end -->" are the table's;
 * tests/readme_options.sh rewrites them. */
static void readme_block_matches(const char *format)
{
	char path[1024], marker[128], *text, *start, *end;
	const char *top = getenv("PGPHASE_TEST_TOP");
	const char *a[] = { NULL, NULL };
	char arg[64];
	struct th_run r;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/README.md", top ? top : ".");
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	snprintf(marker, sizeof(marker), "<!-- pgphase --help=%s -->\n", format);
	start = strstr(text, marker);
	ck_assert_msg(start != NULL, "README.md has no \"%s\" block", marker);
	start += strlen(marker);
	end = strstr(start, "<!-- end -->");
	ck_assert_ptr_nonnull(end);
	*end = '\0';
	snprintf(arg, sizeof(arg), "--help=%s", format);
	a[0] = arg;
	run_in(&r, NULL, NULL, a);
	th_assert_exit(&r, 0);
	ck_assert_msg(strcmp(start, r.out) == 0,
		      "README.md's %s list differs from the option table (run "
		      "tests/readme_options.sh):\nREADME:\n%s\ntable:\n%s", format, start, r.out);
	th_run_release(&r);
	free(text);
}

START_TEST(readme_lists_match_table)
{
	readme_block_matches("options-md");
	readme_block_matches("config-md");
}
END_TEST

Suite *options_suite(void)
{
	Suite *s = suite_create("options");
	TCase *db = th_db_tcase("options");
	TCase *pure = th_pure_tcase("options-pure");

	tcase_add_test(db, flag_equal_to_default_beats_config);
	tcase_add_test(db, flag_default_beats_config_throttle);
	tcase_add_test(db, database_precedence);
	tcase_add_test(db, lock_timeout_precedence);
	tcase_add_test(db, lock_wait_and_module_precedence);
	tcase_add_test(pure, flag_values_checked);
	tcase_add_test(pure, help_lists_every_option);
	tcase_add_test(pure, readme_lists_match_table);
	suite_add_tcase(s, db);
	suite_add_tcase(s, pure);
	return s;
}
