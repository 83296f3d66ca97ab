/*
 * Configuration: libconfig file with strict keys and types (line numbers in errors),
 * durations, environment precedence, password masking.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pgphase/config.h"
#include "base/options.h"

static char *write_cfg(const char *content)
{
	char *dir = th_tmpdir(), *path;

	th_write(dir, "pgphase.cfg", content);
	if (asprintf(&path, "%s/pgphase.cfg", dir) < 0)
		abort();
	free(dir);
	return path;
}

START_TEST(full_config_reads)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_config cfg;
	char *path = write_cfg(
		"database = \"postgresql://app@localhost/app\";\n"
		"migrations = \"db/migrations\";\n"
		"module = \"billing\";\n"
		"state_schema = \"pgphase_state\";\n"
		"lock_timeout = \"250ms\";\n"
		"lock_retry_budget = \"5min\";\n"
		"statement_timeout = 0;\n"
		"backfill = { batch_size = 500; sleep = \"10ms\"; max_rows_per_second = 1000;\n"
		"             target_batch_time = \"200ms\"; max_replica_lag = \"2s\"; workers = 4; };\n"
		"webhooks = ( { url = \"https://hooks.example.com/x\"; secret_env = \"S\";\n"
		"               events = [ \"phase.completed\" ]; format = \"slack\";\n"
		"               timeout = \"3s\"; max_attempts = 3; } );\n"
		"lint = { pg_version = 13; disable = [ \"prefer-text\" ]; error = [ ]; warning = [ ]; };\n");

	pgphase_config_init(&cfg);
	ck_assert_msg(pgphase_config_load(&cfg, path, true, &err) == 0, "%s", err.message);
	ck_assert_str_eq(cfg.database, "postgresql://app@localhost/app");
	ck_assert_str_eq(cfg.migrations, "db/migrations");
	ck_assert_str_eq(cfg.module, "billing");
	ck_assert_str_eq(cfg.state_schema, "pgphase_state");
	ck_assert_int_eq(cfg.lock_timeout_ms, 250);
	ck_assert_int_eq(cfg.lock_retry_budget_ms, 300000);
	ck_assert_int_eq(cfg.backfill.batch_size, 500);
	ck_assert_int_eq(cfg.backfill.sleep_ms, 10);
	ck_assert_int_eq(cfg.backfill.max_replica_lag_ms, 2000);
	ck_assert_int_eq(cfg.backfill.workers, 4);
	ck_assert_uint_eq(cfg.n_webhooks, 1);
	ck_assert_str_eq(cfg.webhooks[0].format, "slack");
	ck_assert_int_eq(cfg.webhooks[0].timeout_ms, 3000);
	ck_assert_str_eq(cfg.webhooks[0].events[0], "phase.completed");
	ck_assert_int_eq(cfg.lint.pg_version, 13);
	ck_assert_str_eq(cfg.lint.disable[0], "prefer-text");
	pgphase_config_release(&cfg);
	free(path);
}
END_TEST

static void expect_error(const char *content, int line, const char *needle)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_config cfg;
	char *path = write_cfg(content);

	pgphase_config_init(&cfg);
	ck_assert_msg(pgphase_config_load(&cfg, path, true, &err) == -1, "accepted:\n%s", content);
	ck_assert_int_eq(err.code, PGPHASE_EXIT_USAGE);
	ck_assert_msg(err.line == line, "line %d, expected %d: %s", err.line, line, err.message);
	th_assert_contains(err.message, needle);
	th_assert_contains(err.message, "pgphase.cfg:");
	pgphase_config_release(&cfg);
	pgphase_error_release(&err);
	free(path);
}

START_TEST(strict_keys_and_types)
{
	expect_error("module = \"a\";\nmodul = \"b\";\n", 2, "unknown config key \"modul\"");
	expect_error("backfill = {\n  batch_size = 10;\n  bogus = 1; };\n", 3, "in backfill");
	expect_error("lock_timeout = \"fast\";\n", 1, "not a valid duration");
	expect_error("migrations = 12;\n", 1, "must be a string");
	expect_error("backfill = { workers = 0; };\n", 1, "must be positive");
	expect_error("module = \"a\";\nstate_schema = ;\n", 2, "malformed config");
	expect_error("webhooks = ( { secret = \"x\"; } );\n", 1, "needs a \"url\"");
	expect_error("webhooks = ( { url = \"https://x\"; format = \"xml\"; } );\n", 1, "\"json\" or \"slack\"");
	expect_error("lint = { pg_version = 99; };\n", 1, "major version");
}
END_TEST

START_TEST(missing_optional_file_is_fine)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_config cfg;

	pgphase_config_init(&cfg);
	ck_assert_int_eq(pgphase_config_load(&cfg, "/nonexistent/pgphase.cfg", false, &err), 0);
	ck_assert_int_eq(pgphase_config_load(&cfg, "/nonexistent/pgphase.cfg", true, &err), -1);
	pgphase_config_release(&cfg);
	pgphase_error_release(&err);
}
END_TEST

START_TEST(durations)
{
	long ms = -1;

	ck_assert_int_eq(pgphase_parse_duration("1s", &ms), 0);
	ck_assert_int_eq(ms, 1000);
	ck_assert_int_eq(pgphase_parse_duration("1.5min", &ms), 0);
	ck_assert_int_eq(ms, 90000);
	ck_assert_int_eq(pgphase_parse_duration("250", &ms), 0);
	ck_assert_int_eq(ms, 250);
	ck_assert_int_eq(pgphase_parse_duration("2 h", &ms), 0);
	ck_assert_int_eq(ms, 7200000);
	ck_assert_int_eq(pgphase_parse_duration("5 parsecs", &ms), -1);
	ck_assert_int_eq(pgphase_parse_duration("-1s", &ms), -1);
	ck_assert_int_eq(pgphase_parse_duration("", &ms), -1);
}
END_TEST

START_TEST(masking)
{
	char *d = pgphase_conninfo_display("postgresql://app:s3cret@db1:5433/prod?sslmode=require");

	ck_assert_str_eq(d, "postgresql://app@db1:5433/prod");
	free(d);
	d = pgphase_conninfo_display("host=db2 user=u password=hunter2 dbname=x");
	ck_assert_str_eq(d, "postgresql://u@db2/x");
	free(d);
	d = pgphase_conninfo_password("postgresql://u:Secr3t@[::1");
	ck_assert_str_eq(d, "Secr3t");
	free(d);
	d = pgphase_conninfo_password("postgresql://u:pw@h/db?sslmode=require");
	ck_assert_str_eq(d, "pw");
	free(d);
	d = pgphase_conninfo_password("host=h password='a b' port=x=");
	ck_assert_str_eq(d, "a b");
	free(d);
	ck_assert_ptr_null(pgphase_conninfo_password("postgresql://u@h/db"));
	d = pgphase_mask_secret("failed for password hunter2 and hunter2", "hunter2");
	ck_assert_str_eq(d, "failed for password ***** and *****");
	free(d);
}
END_TEST

START_TEST(env_overrides_file)
{
	struct pgphase_config cfg;

	pgphase_config_init(&cfg);
	pgphase_config_set(&cfg.database, "dbname=fromfile");
	setenv("DATABASE_URL", "dbname=fromenv", 1);
	{
		struct pgphase_error err = PGPHASE_ERROR_INIT;

		ck_assert_int_eq(pgphase_config_apply_env(&cfg, &err), 0);
	}
	ck_assert_str_eq(cfg.database, "dbname=fromenv");
	unsetenv("DATABASE_URL");
	pgphase_config_release(&cfg);
}
END_TEST

/* The source markers: a flag (even one equal to the default) stays over a file and the
 * environment read after it; the file's value is still checked; a later file replaces an
 * earlier one; the environment replaces the file. */
START_TEST(sources_decide_precedence)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_config cfg;

	pgphase_config_init(&cfg);
	ck_assert_int_eq(cfg.source[PGOPT_BATCH_SIZE], PGPHASE_SOURCE_DEFAULT);
	ck_assert_int_eq(pgphase_option_set_text(&cfg, PGOPT_BATCH_SIZE, "1000",
						 PGPHASE_SOURCE_FLAG, "--batch-size", &err), 0);
	ck_assert_int_eq(pgphase_option_set_text(&cfg, PGOPT_DATABASE, "dbname=fromflag",
						 PGPHASE_SOURCE_FLAG, "--database", &err), 0);
	ck_assert_int_eq(pgphase_config_load_string(&cfg, "a.cfg",
						    "backfill = { batch_size = 100; sleep = 5; };\n"
						    "database = \"dbname=fromfile\";\n"
						    "module = \"m1\";\n", &err), 0);
	ck_assert_int_eq(cfg.backfill.batch_size, 1000);
	ck_assert_int_eq(cfg.backfill.sleep_ms, 5);
	ck_assert_int_eq(cfg.source[PGOPT_SLEEP], PGPHASE_SOURCE_FILE);
	ck_assert_str_eq(cfg.database, "dbname=fromflag");
	ck_assert_int_eq(pgphase_config_load_string(&cfg, "b.cfg", "module = \"m2\";\n", &err), 0);
	ck_assert_str_eq(cfg.module, "m2");
	/* checked even though the flag wins */
	ck_assert_int_eq(pgphase_config_load_string(&cfg, "c.cfg",
						    "backfill = { batch_size = 0; };\n", &err), -1);
	th_assert_contains(err.message, "c.cfg:1: \"batch_size\" must be positive");
	pgphase_error_release(&err);
	setenv("DATABASE_URL", "dbname=fromenv", 1);
	ck_assert_int_eq(pgphase_config_apply_env(&cfg, &err), 0);
	ck_assert_str_eq(cfg.database, "dbname=fromflag");
	cfg.source[PGOPT_DATABASE] = PGPHASE_SOURCE_FILE;
	ck_assert_int_eq(pgphase_config_apply_env(&cfg, &err), 0);
	ck_assert_str_eq(cfg.database, "dbname=fromenv");
	ck_assert_int_eq(cfg.source[PGOPT_DATABASE], PGPHASE_SOURCE_ENV);
	unsetenv("DATABASE_URL");
	pgphase_config_release(&cfg);
}
END_TEST

/* Every default in the table parses, and pgphase_config_init applies them. */
START_TEST(table_defaults)
{
	struct pgphase_config cfg;

	pgphase_config_init(&cfg);
	ck_assert_str_eq(cfg.migrations, "migrations");
	ck_assert_str_eq(cfg.module, "default");
	ck_assert_str_eq(cfg.state_schema, "pgphase");
	ck_assert_str_eq(cfg.schema, "public");
	ck_assert_ptr_null(cfg.database);
	ck_assert_int_eq(cfg.lock_timeout_ms, 1000);
	ck_assert_int_eq(cfg.lock_retry_budget_ms, 300000);
	ck_assert_int_eq(cfg.statement_timeout_ms, 0);
	ck_assert_int_eq(cfg.lock_wait_ms, 0);
	ck_assert_int_eq(cfg.backfill.batch_size, 1000);
	ck_assert_int_eq(cfg.backfill.workers, 1);
	ck_assert_int_eq(cfg.lint.pg_version, 15);
	for (int i = 0; i < PGOPT_COUNT; i++) {
		ck_assert_msg(pgphase_options[i].help != NULL, "option %d has no help", i);
		ck_assert_msg(pgphase_options[i].flag || pgphase_options[i].key,
			      "option %d has neither flag nor key", i);
		ck_assert_int_eq(cfg.source[i], PGPHASE_SOURCE_DEFAULT);
	}
	pgphase_config_release(&cfg);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = th_pure_tcase("config");

	tcase_add_test(tc, full_config_reads);
	tcase_add_test(tc, strict_keys_and_types);
	tcase_add_test(tc, missing_optional_file_is_fine);
	tcase_add_test(tc, durations);
	tcase_add_test(tc, masking);
	tcase_add_test(tc, env_overrides_file);
	tcase_add_test(tc, sources_decide_precedence);
	tcase_add_test(tc, table_defaults);
	suite_add_tcase(s, tc);
	return s;
}
