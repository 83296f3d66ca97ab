/*
 * The user's connection `options` (README "Connection"): pgphase's own session settings are
 * merged with the options of the connection string (URI ?options=, keyword/value options=)
 * or $PGOPTIONS, never replacing them.  The oracle is a plain libpq connection (what psql
 * makes) with the same string and environment: pgphase's migrations see the same settings,
 * plus lock_timeout / statement_timeout, which stay pgphase's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* postgresql://postgres@/DB?host=..&port=..[&query] for the test database */
static char *uri(const char *query)
{
	char *u = malloc(1024);

	snprintf(u, 1024, "postgresql://postgres@/%s?host=%s&port=%s%s%s", th_dbname(),
		 getenv("PGHOST"), getenv("PGPORT"), query ? "&" : "", query ? query : "");
	return u;
}

static void run(struct th_run *r, const char *dir, const char *dsn, const char *const *env,
		const char *cmd)
{
	const char *argv[] = { "-d", dsn, "-m", dir, cmd, NULL };

	th_cli(r, NULL, env, argv);
}

/* What a plain libpq connection with dsn (and PGOPTIONS=pgoptions) shows for a setting. */
static char *libpq_show(const char *dsn, const char *pgoptions, const char *guc)
{
	char *was = getenv("PGOPTIONS") ? strdup(getenv("PGOPTIONS")) : NULL, *out, sql[128];
	PGconn *c;
	PGresult *r;

	if (pgoptions)
		setenv("PGOPTIONS", pgoptions, 1);
	c = PQconnectdb(dsn);
	if (was)
		setenv("PGOPTIONS", was, 1);
	else
		unsetenv("PGOPTIONS");
	free(was);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "libpq: %s", PQerrorMessage(c));
	snprintf(sql, sizeof(sql), "SHOW %s", guc);
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
	out = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return out;
}

/* A migration that records what its session saw, in the table `seen` (wherever it lands). */
#define SEEN_SQL                                                                               \
	"CREATE TABLE seen AS SELECT current_setting('search_path') AS search_path, "         \
	"current_setting('lock_timeout') AS lock_timeout, "                                   \
	"current_setting('work_mem') AS work_mem;\n"

static void assert_seen(const char *schema, const char *col, const char *want)
{
	char sql[256], *v;

	snprintf(sql, sizeof(sql), "SELECT %s FROM \"%s\".seen", col, schema);
	v = th_value(sql);
	ck_assert_msg(v && strcmp(v, want) == 0, "%s in \"%s\".seen: expected \"%s\", got \"%s\"",
		      col, schema, want, v ? v : "(no row)");
	free(v);
}

/* ?options=-csearch_path=app: tables land in app, as with psql (they landed in public). */
START_TEST(uri_options_search_path)
{
	char *d = th_tmpdir(), *dsn = uri("options=-csearch_path%3Dapp"), *want;
	struct th_run r;

	th_exec("CREATE SCHEMA app");
	th_write(d, "001_t.sql", "CREATE TABLE widgets (id int PRIMARY KEY, n int);\n" SEEN_SQL);
	th_write(d, "002_fill.sql", "INSERT INTO widgets SELECT g, NULL FROM generate_series(1, "
				   "500) g;\nUPDATE widgets SET n = id WHERE n IS NULL;\n");
	run(&r, d, dsn, NULL, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE schemaname = 'app' AND "
				 "tablename IN ('widgets', 'seen')"), 2);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);
	want = libpq_show(dsn, NULL, "search_path");
	assert_seen("app", "search_path", want);
	/* pgphase's own setting still applies */
	assert_seen("app", "lock_timeout", "1s");
	/* the backfill (and its workers) ran in app too */
	ck_assert_int_eq(th_long("SELECT count(*) FROM app.widgets WHERE n = id"), 500);
	free(want);
	free(dsn);
	free(d);
}
END_TEST

/* Backfill workers are separate connections: they carry the same merged options. */
START_TEST(backfill_workers_keep_options)
{
	char *d = th_tmpdir(), *dsn = uri("options=-csearch_path%3Dapp");
	struct th_run r;

	th_exec("CREATE SCHEMA app; CREATE TABLE app.big (id int PRIMARY KEY, n int);"
		"INSERT INTO app.big SELECT g, NULL FROM generate_series(1, 20000) g");
	th_write(d, "001_fill.sql", "UPDATE big SET n = id WHERE n IS NULL;\n");
	{
		const char *argv[] = { "-d", dsn, "-m", d, "backfill", "--workers", "3",
				       "--batch-size", "500", NULL };

		th_cli(&r, NULL, NULL, argv);
	}
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM app.big WHERE n = id"), 20000);
	free(dsn);
	free(d);
}
END_TEST

/* PGOPTIONS=-c default_transaction_read_only=on: migrate fails read-only, nothing changes. */
START_TEST(pgoptions_read_only_guard_holds)
{
	char *d = th_tmpdir(), *dsn = uri(NULL);
	const char *env[] = { "PGOPTIONS=-c default_transaction_read_only=on", NULL };
	struct th_run r;

	th_write(d, "001_a.sql", "CREATE TABLE a (x int);\n");
	/* no state schema yet */
	run(&r, d, dsn, env, "migrate");
	ck_assert_msg(r.status == 1, "expected exit 1, got %d\n%s", r.status, r.err);
	th_assert_contains(r.err, "read-only transaction");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE tablename = 'a'"), 0);
	/* state schema present (a first migration ran read-write), then read-only again */
	run(&r, d, dsn, NULL, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	th_write(d, "002_b.sql", "CREATE TABLE b (x int);\nALTER TABLE a ADD COLUMN y int;\n");
	run(&r, d, dsn, env, "migrate");
	ck_assert_msg(r.status == 1, "expected exit 1, got %d\n%s", r.status, r.err);
	th_assert_contains(r.err, "read-only transaction");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE tablename = 'b'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM information_schema.columns "
				 "WHERE table_name = 'a' AND column_name = 'y'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE version = 2 AND "
				 "state <> 'pending'"), 0);
	free(dsn);
	free(d);
}
END_TEST

/*
 * Keyword/value DSN with an escaped space in a value (libpq's options string escapes spaces
 * with a backslash; keyword/value quoting doubles it): a schema named "My Schema".
 */
START_TEST(keyword_value_escaped_space)
{
	char *d = th_tmpdir(), dsn[1024], *want;
	struct th_run r;

	snprintf(dsn, sizeof(dsn), "%s options='-c search_path=\"My\\\\ Schema\" -c work_mem=5MB'",
		 th_conninfo());
	th_exec("CREATE SCHEMA \"My Schema\"");
	th_write(d, "001_t.sql", "CREATE TABLE \"Odd Table\" (id int);\n" SEEN_SQL);
	run(&r, d, dsn, NULL, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE schemaname = 'My Schema'"),
			 2);
	want = libpq_show(dsn, NULL, "search_path");
	ck_assert_str_eq(want, "\"My Schema\"");
	assert_seen("My Schema", "search_path", want);
	assert_seen("My Schema", "work_mem", "5MB");
	free(want);
	free(d);
}
END_TEST

/*
 * Both a URI options and PGOPTIONS: libpq (and psql) use the connection string's and ignore
 * PGOPTIONS; pgphase sees what psql sees.  PGOPTIONS alone applies.
 */
START_TEST(uri_options_and_pgoptions)
{
	char *d = th_tmpdir(), *dsn = uri("options=-c%20search_path%3Dapp%20-c%20work_mem%3D7MB");
	const char *pgo = "-c search_path=other -c work_mem=9MB";
	char envbuf[128], *want;
	const char *env[] = { envbuf, NULL };
	struct th_run r;

	snprintf(envbuf, sizeof(envbuf), "PGOPTIONS=%s", pgo);
	th_exec("CREATE SCHEMA app; CREATE SCHEMA other");
	th_write(d, "001_t.sql", SEEN_SQL);
	run(&r, d, dsn, env, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	want = libpq_show(dsn, pgo, "search_path");
	assert_seen("app", "search_path", want);
	free(want);
	want = libpq_show(dsn, pgo, "work_mem");
	assert_seen("app", "work_mem", want);
	ck_assert_str_eq(want, "7MB");
	free(want);
	free(dsn);

	/* PGOPTIONS alone (plain keyword/value DSN) */
	th_write(d, "002_t.sql", "ALTER TABLE app.seen SET SCHEMA public;\n" SEEN_SQL);
	run(&r, d, th_conninfo(), env, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	assert_seen("other", "work_mem", "9MB");
	assert_seen("other", "search_path", "other");
	free(d);
}
END_TEST

/*
 * A user's lock_timeout in the options is overridden by pgphase's (the short-lock guarantee
 * does not depend on how the app's connection string was written), with a warning.
 */
START_TEST(user_lock_timeout_loses_with_warning)
{
	char *d = th_tmpdir();
	const char *env[] = { "PGOPTIONS=-c lock_timeout=0 -c work_mem=6MB", NULL };
	struct th_run r;

	th_write(d, "001_t.sql", SEEN_SQL);
	{
		const char *argv[] = { "-d", th_conninfo(), "-m", d, "migrate", "--lock-timeout",
				       "2s", NULL };

		th_cli(&r, NULL, env, argv);
	}
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "connection options set lock_timeout; pgphase uses its own "
				  "(2000 ms");
	th_run_release(&r);
	assert_seen("public", "lock_timeout", "2s");
	assert_seen("public", "work_mem", "6MB");
	free(d);
}
END_TEST

/* The password of a DSN with options never shows, also when the connection fails. */
START_TEST(password_masked_with_options)
{
	char *d = th_tmpdir(), dsn[1024];
	struct th_run r;

	snprintf(dsn, sizeof(dsn), "postgresql://postgres:s3cretpw@/no_such_db_x?host=%s&port=%s"
		 "&options=-csearch_path%%3Dapp", getenv("PGHOST"), getenv("PGPORT"));
	th_write(d, "001_t.sql", "CREATE TABLE t (x int);\n");
	run(&r, d, dsn, NULL, "migrate");
	th_assert_exit(&r, 3);
	th_assert_not_contains(r.err, "s3cretpw");
	th_assert_not_contains(r.out, "s3cretpw");
	th_run_release(&r);
	free(d);
}
END_TEST

Suite *connopts_suite(void)
{
	Suite *s = suite_create("connopts");
	TCase *tc = th_db_tcase("connopts");

	tcase_add_test(tc, uri_options_search_path);
	tcase_add_test(tc, backfill_workers_keep_options);
	tcase_add_test(tc, pgoptions_read_only_guard_holds);
	tcase_add_test(tc, keyword_value_escaped_space);
	tcase_add_test(tc, uri_options_and_pgoptions);
	tcase_add_test(tc, user_lock_timeout_loses_with_warning);
	tcase_add_test(tc, password_masked_with_options);
	suite_add_tcase(s, tc);
	return s;
}
