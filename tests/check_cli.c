/*
 * The command line against the real server: connection failures, password masking, the run
 * lock, SIGINT, config errors, flags, init/new, huge files, privileges.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "harness.h"

#define RUN(r, dir, ...) th_pgphase((r), (dir), __VA_ARGS__, NULL)

static void cli(struct th_run *r, const char *const *argv)
{
	th_cli(r, NULL, NULL, argv);
}

START_TEST(help_and_version)
{
	static const char *const cmds[] = { "init", "new", "status", "migrate", "rollback", "history", "lint" };
	struct th_run r;
	const char *v[] = { "--version", NULL };

	cli(&r, v);
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "pgphase 0.");
	th_run_release(&r);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *a[] = { cmds[i], "--help", NULL };

		cli(&r, a);
		th_assert_exit(&r, 0);
		th_assert_contains(r.out, "usage: pgphase");
		th_assert_contains(r.out, cmds[i]);
		th_run_release(&r);
	}
	{
		const char *a[] = { "frobnicate", NULL };

		cli(&r, a);
		th_assert_exit(&r, 2);
		th_assert_contains(r.err, "unknown command \"frobnicate\"");
		th_run_release(&r);
	}
	{
		const char *a[] = { "status", "--bogus", NULL };

		cli(&r, a);
		th_assert_exit(&r, 2);
		th_assert_contains(r.err, "unknown option \"--bogus\"");
		th_run_release(&r);
	}
	{
		const char *a[] = { "status", "--steps", "2", NULL };

		cli(&r, a);
		th_assert_exit(&r, 2);
		th_assert_contains(r.err, "--steps does not apply to \"status\"");
		th_run_release(&r);
	}
}
END_TEST

START_TEST(unreachable_wrong_password_missing_db)
{
	struct th_run r;
	char *dir = th_tmpdir();
	char url[512];

	th_write(dir, "001_a.sql", "SELECT 1;\n");
	{
		const char *a[] = { "-d", "host=127.0.0.1 port=1 connect_timeout=2", "-m", dir, "migrate", NULL };

		cli(&r, a);
		th_assert_exit(&r, 3);
		th_assert_contains(r.err, "cannot connect to");
		th_run_release(&r);
	}
	th_exec("CREATE ROLE app LOGIN PASSWORD 'correct-horse'");
	snprintf(url, sizeof(url), "postgresql://app:Sup3rS3cret@127.0.0.1:%s/%s", getenv("PGPORT"), th_dbname());
	{
		const char *a[] = { "-d", url, "-m", dir, "migrate", NULL };

		cli(&r, a);
		th_assert_exit(&r, 3);
		th_assert_contains(r.err, "password authentication failed");
		th_assert_contains(r.err, "postgresql://app@127.0.0.1:");
		th_assert_not_contains(r.err, "Sup3rS3cret");
		th_assert_not_contains(r.out, "Sup3rS3cret");
		th_run_release(&r);
	}
	/* libpq echoes an unparseable URI in its message: the password is masked there too */
	{
		const char *a[] = { "-d", "postgresql://u:Sup3rS3cret@[::1", "-m", dir, "status", NULL };

		cli(&r, a);
		th_assert_exit(&r, 3);
		th_assert_contains(r.err, "u:*****@[::1");
		th_assert_not_contains(r.err, "Sup3rS3cret");
		th_run_release(&r);
	}
	snprintf(url, sizeof(url), "host=%s port=%s user=postgres dbname=no_such_db", getenv("PGHOST"),
		 getenv("PGPORT"));
	{
		const char *a[] = { "-d", url, "-m", dir, "status", NULL };

		cli(&r, a);
		th_assert_exit(&r, 3);
		th_assert_contains(r.err, "database \"no_such_db\" does not exist");
		th_run_release(&r);
	}
	free(dir);
}
END_TEST

START_TEST(lock_held_exit_4_names_holder)
{
	struct th_run r;
	char *dir = th_tmpdir();
	PGconn *holder = th_connect();
	PGresult *res;
	int64_t t0;

	th_write(dir, "001_a.sql", "CREATE TABLE a (x int);\n");
	res = PQexec(holder, "SET application_name = 'deploy-bot'; "
			     "SELECT pg_advisory_lock(1885827176, hashtext('pgphase/default'))");
	ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
	PQclear(res);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 4);
	th_assert_contains(r.err, "another pgphase run holds the lock for module \"default\"");
	th_assert_contains(r.err, "application_name \"deploy-bot\"");
	th_assert_contains(r.err, "pid ");
	th_assert_contains(r.err, "since ");
	th_run_release(&r);
	/* --lock-wait waits, then gives up */
	t0 = time(NULL);
	RUN(&r, dir, "migrate", "--lock-wait", "2");
	th_assert_exit(&r, 4);
	ck_assert_int_ge(time(NULL) - t0, 2);
	th_run_release(&r);
	/* another module is not blocked */
	RUN(&r, dir, "migrate", "--module", "other");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	PQfinish(holder);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE module = 'default'"), 0);
	free(dir);
}
END_TEST

START_TEST(sigint_cancels_long_statement)
{
	char *dir = th_tmpdir();
	const char *bin = getenv("PGPHASE_BIN");
	int status;
	pid_t pid;
	int64_t waited = 0;

	char errpath[64];

	snprintf(errpath, sizeof(errpath), "/tmp/pgphase-sigint.%d", (int)getpid());
	th_write(dir, "001_slow.sql", "CREATE TABLE slow (x int);\nSELECT pg_sleep(60);\n");
	pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen(errpath, "w", stderr);
		execl(bin, bin, "-d", th_conninfo(), "-m", dir, "migrate", (char *)NULL);
		_exit(127);
	}
	/* wait until the statement runs on the server */
	while (th_long("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'") == 0) {
		usleep(50000);
		waited += 50;
		ck_assert_msg(waited < 20000, "pg_sleep never started");
	}
	kill(pid, SIGINT);
	waitpid(pid, &status, 0);
	{
		FILE *f = fopen(errpath, "r");
		char buf[4096] = "";

		ck_assert_ptr_nonnull(f);
		buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
		fclose(f);
		unlink(errpath);
		th_assert_contains(buf, "001_slow.sql:2:1: interrupted: canceling statement due to user request");
	}
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	/* cancelled, rolled back, not recorded, failure in history */
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 'slow'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.events WHERE type = 'phase.failed' "
				 "AND error LIKE '%cancel%'"), 1);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"), 0);
	free(dir);
}
END_TEST

START_TEST(config_errors_and_precedence)
{
	struct th_run r;
	char *dir = th_tmpdir(), cfg[512], body[1024];

	th_write(dir, "migrations/001_a.sql", "CREATE TABLE a (x int);\n");
	snprintf(cfg, sizeof(cfg), "%s/bad.cfg", dir);
	th_write(dir, "bad.cfg", "module = \"x\";\nlock_timeot = \"1s\";\n");
	{
		const char *a[] = { "-c", cfg, "status", NULL };

		cli(&r, a);
		th_assert_exit(&r, 2);
		th_assert_contains(r.err, "bad.cfg:2: unknown config key \"lock_timeot\"");
		th_run_release(&r);
	}
	th_write(dir, "bad.cfg", "module = \"x\";\nbackfill = { batch_size = \"big\"; };\n");
	{
		const char *a[] = { "-c", cfg, "status", NULL };

		cli(&r, a);
		th_assert_exit(&r, 2);
		th_assert_contains(r.err, "bad.cfg:2: \"batch_size\" must be an integer");
		th_run_release(&r);
	}
	th_write(dir, "bad.cfg", "module = \"x\"\n  = 3;\n");
	{
		const char *a[] = { "-c", cfg, "status", NULL };

		cli(&r, a);
		th_assert_exit(&r, 2);
		th_assert_contains(r.err, "bad.cfg:2: malformed config");
		th_run_release(&r);
	}
	/* ./pgphase.cfg is read from the working directory; flags beat it */
	snprintf(body, sizeof(body), "database = \"%s\";\nmodule = \"fromfile\";\n", th_conninfo());
	th_write(dir, "pgphase.cfg", body);
	{
		const char *a[] = { "migrate", NULL };

		th_cli(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE module = 'fromfile'"), 1);
	{
		const char *a[] = { "status", "--module", "fromflag", "--format", "json", NULL };

		th_cli(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_assert_contains(r.out, "\"module\": \"fromflag\"");
		th_run_release(&r);
	}
	/* DATABASE_URL beats the file */
	{
		const char *env[] = { "DATABASE_URL=host=127.0.0.1 port=1 connect_timeout=2", NULL };
		const char *a[] = { "status", NULL };

		th_cli(&r, dir, env, a);
		th_assert_exit(&r, 3);
		th_run_release(&r);
	}
	free(dir);
}
END_TEST

START_TEST(init_and_new)
{
	struct th_run r;
	char *dir = th_tmpdir(), mig[512];

	snprintf(mig, sizeof(mig), "%s/db/migrations", dir);
	{
		const char *a[] = { "-d", th_conninfo(), "-m", "db/migrations", "init", NULL };

		th_write(dir, "db/.keep", "");
		th_cli(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_assert_contains(r.err, "state schema \"pgphase\" ready");
		th_run_release(&r);
	}
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE schemaname = 'pgphase' AND tablename "
				 "IN ('meta', 'migrations', 'backfill_progress', 'events', 'deliveries')"), 5);
	/* the starter config lists every key with its default; uncommented, it still parses */
	{
		char path[600], *text = NULL;
		size_t len = 0;
		struct sbuf uncommented = SBUF_INIT;
		const char *a[] = { "-c", "all.cfg", "-d", th_conninfo(), "status", NULL };

		snprintf(path, sizeof(path), "%s/pgphase.cfg", dir);
		ck_assert_int_eq(read_file(path, &text, &len), 0);
		th_assert_contains(text, "migrations = \"db/migrations\";");
		th_assert_contains(text, "#   batch_size = 1000;");
		th_assert_contains(text, "# lock_timeout = \"1s\";");
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			bool setting = strncmp(line, "# ", 2) == 0 &&
				       (strstr(line, " = ") || strcmp(line, "# };") == 0) &&
				       !strstr(line, "database =") && !strstr(line, "webhooks") &&
				       !strstr(line, "secret_env");

			sbuf_addf(&uncommented, "%s\n", setting ? line + 2 : line);
		}
		th_write(dir, "all.cfg", uncommented.buf);
		th_cli(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_run_release(&r);
		sbuf_release(&uncommented);
		free(text);
	}
	{
		const char *a[] = { "-m", "db/migrations", "new", "add orders", NULL };

		th_cli(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_assert_contains(r.out, "db/migrations/001_add_orders.sql");
		th_run_release(&r);
	}
	{
		const char *a[] = { "-m", "db/migrations", "new", NULL };

		th_cli(&r, dir, NULL, a);
		th_assert_exit(&r, 2);
		th_run_release(&r);
	}
	/* init twice is fine and keeps the config file */
	{
		const char *a[] = { "-d", th_conninfo(), "-m", "db/migrations", "init", NULL };

		th_cli(&r, dir, NULL, a);
		th_assert_exit(&r, 0);
		th_assert_not_contains(r.err, "created pgphase.cfg");
		th_run_release(&r);
	}
	free(dir);
}
END_TEST

START_TEST(role_without_create_privilege)
{
	struct th_run r;
	char *dir = th_tmpdir(), ci[512];

	th_exec("CREATE ROLE weak LOGIN");
	th_exec("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
	th_write(dir, "001_a.sql", "SELECT 1;\n");
	snprintf(ci, sizeof(ci), "%s user=weak", th_conninfo());
	{
		const char *a[] = { "-d", ci, "-m", dir, "migrate", NULL };

		cli(&r, a);
		th_assert_exit(&r, 2);
		th_assert_contains(r.err, "cannot create state schema \"pgphase\": permission denied");
		th_assert_contains(r.err, "hint:");
		th_run_release(&r);
	}
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	free(dir);
}
END_TEST

START_TEST(huge_file_works)
{
	struct th_run r;
	char *dir = th_tmpdir(), path[512];
	FILE *f;
	long bytes = 0;

	snprintf(path, sizeof(path), "%s/001_huge.sql", dir);
	f = fopen(path, "w");
	fputs("CREATE TABLE big (id int, payload text);\n", f);
	for (int i = 0; bytes < 50L * 1024 * 1024; i++)
		bytes += fprintf(f, "INSERT INTO big VALUES (%d, '%0400d');\n", i, i);
	fclose(f);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_gt(th_long("SELECT count(*) FROM big"), 100000);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE state = 'complete'"), 1);
	free(dir);
}
END_TEST

Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = th_db_tcase("cli");

	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, unreachable_wrong_password_missing_db);
	tcase_add_test(tc, lock_held_exit_4_names_holder);
	tcase_add_test(tc, sigint_cancels_long_statement);
	tcase_add_test(tc, config_errors_and_precedence);
	tcase_add_test(tc, init_and_new);
	tcase_add_test(tc, role_without_create_privilege);
	tcase_add_test(tc, huge_file_works);
	suite_add_tcase(s, tc);
	return s;
}
