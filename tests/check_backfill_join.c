/*
 * Several pgphase processes (on one host or several) sharing one backfill through the CLI:
 * the run-lock holder runs `pgphase backfill`, helpers run `pgphase backfill --join`, which
 * takes no run lock and claims key chunks beside it.  Every row is processed exactly once
 * and the joiner does part of the work.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static pid_t spawn(const char *dir, const char *errpath, const char *const *extra)
{
	const char *bin = getenv("PGPHASE_BIN");
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		const char *args[24] = { bin, "-d", th_conninfo(), "-m", dir, "backfill",
					 "--max-rows-per-second", "25000", "--batch-size", "500" };
		int n = 10;

		for (int i = 0; extra[i]; i++)
			args[n++] = extra[i];
		args[n] = NULL;
		freopen("/dev/null", "w", stdout);
		freopen(errpath, "w", stderr);
		execv(bin, (char *const *)args);
		_exit(127);
	}
	return pid;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);

	ck_assert_ptr_nonnull(f);
	buf[fread(buf, 1, 65535, f)] = '\0';
	fclose(f);
	unlink(path);
	return buf;
}

START_TEST(join_shares_one_backfill)
{
	char *dir = th_tmpdir(), lead_err[64], join_err[64], *lead_out, *join_out;
	const char *none[] = { NULL }, *join[] = { "--join", NULL };
	struct th_run r;
	pid_t lead, joiner;
	int st, waited = 0;
	long long joined_rows = 0;
	const char *p;

	th_write(dir, "001_t.sql",
		 "CREATE TABLE big2 (id bigint PRIMARY KEY, old int NOT NULL, new int, "
		 "hits int NOT NULL DEFAULT 0);\n");
	th_write(dir, "002_fill.sql", "UPDATE big2 SET new = old + 1, hits = hits + 1 WHERE new IS NULL;\n");
	th_pgphase(&r, dir, "migrate", "--to", "1", NULL);
	th_assert_exit(&r, 0);
	th_run_release(&r);
	th_exec("INSERT INTO big2 (id, old) SELECT g, g FROM generate_series(1, 200000) g");
	th_pgphase(&r, dir, "expand", NULL);
	th_assert_exit(&r, 0);
	th_run_release(&r);
	/* nothing to join before anything is expanded is covered by the expand above; join now */
	snprintf(lead_err, sizeof(lead_err), "/tmp/pgphase-lead.%d", (int)getpid());
	snprintf(join_err, sizeof(join_err), "/tmp/pgphase-join.%d", (int)getpid());
	lead = spawn(dir, lead_err, none);
	while (th_long("SELECT count(*) FROM big2 WHERE new IS NOT NULL") == 0) {
		usleep(20000);
		ck_assert_msg((waited += 20) < 60000, "the backfill never started");
	}
	joiner = spawn(dir, join_err, join);
	waitpid(joiner, &st, 0);
	join_out = slurp(join_err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "joiner failed:\n%s", join_out);
	waitpid(lead, &st, 0);
	lead_out = slurp(lead_err);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "lead failed:\n%s", lead_out);
	th_assert_contains(join_out, "joining the backfill of");
	th_assert_not_contains(join_out, "another pgphase run holds the lock");
	p = strstr(join_out, "backfill big2: ");
	ck_assert_msg(p != NULL, "joiner reported no work:\n%s", join_out);
	joined_rows = atoll(p + strlen("backfill big2: "));
	ck_assert_msg(joined_rows > 0, "the joiner processed no rows:\n%s", join_out);
	/* exactly once, and the lock holder finished the phase */
	ck_assert_int_eq(th_long("SELECT count(*) FROM big2 WHERE new = old + 1 AND hits = 1"), 200000);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE version = 2 AND "
				 "state = 'backfilled'"), 1);
	/* the lock holder's backfill phase.completed event carries the engine's figures for
	 * the whole backfill, joiner's rows included */
	ck_assert_int_eq(th_long("SELECT rows FROM pgphase.events WHERE type = 'phase.completed' "
				 "AND phase = 'backfill' AND version = 2"), 200000);
	ck_assert_int_eq(th_long("SELECT rows_swept FROM pgphase.events WHERE type = 'phase.completed' "
				 "AND phase = 'backfill' AND version = 2"), 0);
	ck_assert_int_ge(th_long("SELECT batches FROM pgphase.events WHERE type = 'phase.completed' "
				 "AND phase = 'backfill' AND version = 2"), 200000 / 500);
	free(lead_out);
	free(join_out);
	free(dir);
}
END_TEST

START_TEST(join_with_nothing_to_join)
{
	char *dir = th_tmpdir();
	struct th_run r;

	th_write(dir, "001_t.sql", "CREATE TABLE t (id bigint PRIMARY KEY);\n");
	th_pgphase(&r, dir, "backfill", "--join", NULL);
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "nothing to join");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 't'"), 0);
	free(dir);
}
END_TEST

Suite *backfill_join_suite(void)
{
	Suite *s = suite_create("backfill_join");
	TCase *tc = th_db_tcase("backfill_join");

	tcase_add_test(tc, join_shares_one_backfill);
	tcase_add_test(tc, join_with_nothing_to_join);
	suite_add_tcase(s, tc);
	return s;
}
