/*
 * Every wait of the executor is bounded and stops on SIGINT/SIGTERM (issue 14, item 1): the
 * real pgphase process is signalled while it waits for a lock (lock_timeout retries) or for
 * the transactions a CREATE INDEX CONCURRENTLY waits out, and must exit within 2 s with a
 * message naming what it waited for; with a small lock_retry_budget it must give up on its
 * own, saying so.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "strategies/equiv.h"

#define T "CREATE TABLE t (id int PRIMARY KEY, a int);\n"
#define T_ROWS "INSERT INTO t SELECT g, g FROM generate_series(1, 500) g"

/* Is a pgphase session waiting for a lock (or a transaction to end)? */
#define WAITING "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'pgphase%'" \
		" AND wait_event_type = 'Lock'"

static char *wait_dir(const char *change, const char *cfg)
{
	char *dir = th_tmpdir();

	th_write(dir, "m/001_create.sql", T);
	th_write(dir, "m/002_change.sql", change);
	th_write(dir, "pgphase.cfg", cfg);
	return dir;
}

/* A session of the app: an open transaction that wrote to t (ROW EXCLUSIVE, which both ALTER
 * TABLE and CREATE INDEX CONCURRENTLY wait for). */
static PGconn *app_writing(void)
{
	PGconn *c = th_connect();
	PGresult *r = PQexec(c, "BEGIN; UPDATE t SET a = a WHERE id = 1");

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
	PQclear(r);
	return c;
}

/* Wait (at most 20 s) until cond holds; fail otherwise. */
static void wait_for(const char *cond)
{
	PGconn *c = th_connect();
	double start = fx_now_ms();

	while (!fx_cond(c, cond)) {
		ck_assert_msg(fx_now_ms() - start < 20000, "timed out waiting for: %s", cond);
		usleep(10000);
	}
	PQfinish(c);
}

/*
 * Start `pgphase migrate` on dir, wait until it waits (cond), send sig, and return its exit
 * status; *ms gets how long it took to exit after the signal, *err its stderr.
 */
static int signal_while_waiting(const char *dir, const char *cond, int sig, double *ms, char **err)
{
	const char *args[] = { "migrate", NULL };
	char *errfile = NULL, *cmd = NULL;
	double sent;
	pid_t pid;
	int st;

	if (asprintf(&errfile, "%s/stderr.txt", dir) < 0)
		ck_abort();
	pid = fx_spawn(dir, args, errfile);
	wait_for(cond);
	usleep(300000); /* well inside the wait (and its retries) */
	sent = fx_now_ms();
	kill(pid, sig);
	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (fx_now_ms() - sent > 10000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ck_abort_msg("pgphase did not exit within 10 s of signal %d", sig);
		}
		usleep(2000);
	}
	*ms = fx_now_ms() - sent;
	if (asprintf(&cmd, "cat '%s'", errfile) < 0)
		ck_abort();
	eq_shell(cmd, err);
	free(cmd);
	free(errfile);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void migrate_to_1(const char *dir)
{
	const char *args[] = { "migrate", "--to", "1", NULL };

	ck_assert_int_eq(eq_pgphase_deadline(dir, args, 60000, NULL), 0);
	th_exec(T_ROWS);
}

/* SIGINT between and during lock_timeout retries: out within 2 s, naming the lock wait. */
START_TEST(test_sigint_during_lock_retries)
{
	char *dir = wait_dir("ALTER TABLE t ADD COLUMN c int;\n",
			     "lock_timeout = \"200ms\";\nlock_retry_budget = \"5min\";\n");
	PGconn *app;
	double ms;
	char *err;
	int st;

	fx_private_binary();
	migrate_to_1(dir);
	app = app_writing();
	st = signal_while_waiting(dir, WAITING, SIGINT, &ms, &err);
	PQfinish(app);
	ck_assert_msg(st == 1, "exit %d:\n%s", st, err);
	ck_assert_msg(ms < 2000, "exited %.0f ms after SIGINT:\n%s", ms, err);
	th_assert_contains(err, "interrupted");
	th_assert_contains(err, "002_change.sql:1:1");
	th_assert_contains(err, "ALTER TABLE t ADD COLUMN c");
	/* nothing of the migration committed; a rerun finishes it */
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass"
				 " AND attname = 'c'"), 0);
	free(err);
	free(dir);
}
END_TEST

/* The retry budget bounds the wait: a clear error saying it gave up on the lock. */
START_TEST(test_lock_budget_bounds_the_wait)
{
	char *dir = wait_dir("ALTER TABLE t ADD COLUMN c int;\n",
			     "lock_timeout = \"100ms\";\nlock_retry_budget = \"2s\";\n");
	const char *args[] = { "migrate", NULL };
	double start;
	PGconn *app;
	char *err;
	int st;

	fx_private_binary();
	migrate_to_1(dir);
	app = app_writing();
	start = fx_now_ms();
	st = eq_pgphase_deadline(dir, args, 30000, &err);
	PQfinish(app);
	ck_assert_msg(st == 1, "exit %d:\n%s", st, err);
	ck_assert_msg(fx_now_ms() - start < 8000, "took %.0f ms", fx_now_ms() - start);
	th_assert_contains(err, "gave up waiting for a lock after");
	th_assert_contains(err, "lock_retry_budget 2.0 s");
	th_assert_contains(err, "ALTER TABLE t ADD COLUMN c");
	free(err);
	free(dir);
}
END_TEST

/* SIGTERM while CREATE INDEX CONCURRENTLY waits for the app's transaction: out within 2 s,
 * naming the index; the rerun finishes with a valid index. */
START_TEST(test_sigterm_during_index_build)
{
	char *dir = wait_dir("CREATE INDEX \"MyIdx\" ON t (a);\n",
			     "lock_timeout = \"60s\";\nlock_retry_budget = \"5min\";\n");
	const char *args[] = { "migrate", NULL };
	PGconn *app;
	double ms;
	char *err;
	int st;

	fx_private_binary();
	migrate_to_1(dir);
	app = app_writing();
	st = signal_while_waiting(dir, WAITING, SIGTERM, &ms, &err);
	PQfinish(app);
	ck_assert_msg(st == 1, "exit %d:\n%s", st, err);
	ck_assert_msg(ms < 2000, "exited %.0f ms after SIGTERM:\n%s", ms, err);
	th_assert_contains(err, "interrupted");
	th_assert_contains(err, "\"MyIdx\"");
	free(err);
	ck_assert_int_eq(eq_pgphase_deadline(dir, args, 60000, &err), 0);
	free(err);
	err = th_value("SELECT indisvalid::text FROM pg_index"
		       " WHERE indexrelid = '\"MyIdx\"'::regclass");
	ck_assert_str_eq(err, "true");
	free(err);
	free(dir);
}
END_TEST

Suite *waits_suite(void)
{
	Suite *s = suite_create("waits");
	TCase *tc = th_db_tcase("signals");

	tcase_add_test(tc, test_sigint_during_lock_retries);
	tcase_add_test(tc, test_lock_budget_bounds_the_wait);
	tcase_add_test(tc, test_sigterm_during_index_build);
	suite_add_tcase(s, tc);
	return s;
}
