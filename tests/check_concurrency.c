/*
 * Concurrency: eight pgphase processes started at once on one database and module apply
 * each migration exactly once (the others wait or exit 4 naming the holder); two modules
 * migrating one fresh database at once do not block each other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

struct proc {
	pid_t pid;
	char errpath[64];
};

/* Start pgphase in the background with stderr to a file. */
static void spawn(struct proc *p, const char *const *argv)
{
	const char *bin = getenv("PGPHASE_BIN");

	snprintf(p->errpath, sizeof(p->errpath), "/tmp/pgphase-conc.%d.%ld", (int)getpid(), random());
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		const char *args[32];
		int n = 0;

		args[n++] = bin;
		for (int i = 0; argv[i] && n < 31; i++)
			args[n++] = argv[i];
		args[n] = NULL;
		freopen("/dev/null", "w", stdout);
		freopen(p->errpath, "w", stderr);
		execv(bin, (char *const *)args);
		_exit(127);
	}
}

static int reap(struct proc *p, char **err)
{
	int st;
	FILE *f;
	long len;

	waitpid(p->pid, &st, 0);
	f = fopen(p->errpath, "r");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	*err = calloc(1, (size_t)len + 1);
	if (fread(*err, 1, (size_t)len, f) != (size_t)len)
		(*err)[0] = '\0';
	fclose(f);
	unlink(p->errpath);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(eight_runners_exactly_once)
{
	char *dir = th_tmpdir();
	struct proc procs[8];
	int exit4 = 0, exit0 = 0;

	for (int i = 1; i <= 12; i++) {
		char name[64], body[256];

		snprintf(name, sizeof(name), "%03d_t%d.sql", i, i);
		snprintf(body, sizeof(body),
			 "CREATE TABLE t%d (id int);\nSELECT pg_sleep(0.1);\nINSERT INTO t%d VALUES (%d);\n",
			 i, i, i);
		th_write(dir, name, body);
	}
	for (int i = 0; i < 8; i++) {
		/* half wait for the lock, half give up at once */
		const char *argv[] = { "-d", th_conninfo(), "-m", dir, "migrate", "--lock-wait",
				       i % 2 ? "60" : "0", NULL };

		spawn(&procs[i], argv);
	}
	for (int i = 0; i < 8; i++) {
		char *err = NULL;
		int rc = reap(&procs[i], &err);

		ck_assert_msg(rc == 0 || rc == 4, "runner %d exited %d:\n%s", i, rc, err);
		if (rc == 4) {
			th_assert_contains(err, "another pgphase run holds the lock");
			th_assert_contains(err, "pid ");
			ck_assert_msg(i % 2 == 0, "a waiting runner gave up:\n%s", err);
			exit4++;
		} else {
			exit0++;
		}
		free(err);
	}
	ck_assert_int_ge(exit0, 4);
	ck_assert_int_ge(exit4, 1);
	/* every migration applied exactly once: one row, one completion event, one data row */
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE state = 'complete'"), 12);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.events WHERE type = 'migration.completed'"), 12);
	ck_assert_int_eq(th_long("SELECT count(*) FROM (SELECT version FROM pgphase.events "
				 "WHERE type = 'migration.completed' GROUP BY version HAVING count(*) > 1) d"), 0);
	for (int i = 1; i <= 12; i++) {
		char sql[64];

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM t%d", i);
		ck_assert_int_eq(th_long(sql), 1);
	}
	free(dir);
}
END_TEST

START_TEST(two_modules_do_not_block)
{
	char *slow = th_tmpdir(), *fast = th_tmpdir(), *err = NULL;
	struct proc a, b;
	struct timespec t0, t1;
	double fast_s;
	int rc;

	th_write(slow, "001_slow.sql", "CREATE TABLE slow (id int);\nSELECT pg_sleep(4);\n");
	th_write(fast, "001_fast.sql", "CREATE TABLE fast (id int);\n");
	{
		const char *argv[] = { "-d", th_conninfo(), "-m", slow, "--module", "reports", "migrate", NULL };

		spawn(&a, argv);
	}
	/* both start on a database without the state schema: creation must not race */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		const char *argv[] = { "-d", th_conninfo(), "-m", fast, "--module", "auth", "migrate", NULL };

		spawn(&b, argv);
	}
	rc = reap(&b, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fast_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(rc == 0, "fast module exited %d:\n%s", rc, err);
	free(err);
	ck_assert_msg(fast_s < 3.0, "module auth took %.2f s: blocked by module reports", fast_s);
	rc = reap(&a, &err);
	ck_assert_msg(rc == 0, "slow module exited %d:\n%s", rc, err);
	free(err);
	ck_assert_int_eq(th_long("SELECT count(DISTINCT module) FROM pgphase.migrations"), 2);
	free(slow);
	free(fast);
}
END_TEST

Suite *concurrency_suite(void)
{
	Suite *s = suite_create("concurrency");
	TCase *tc = th_db_tcase("concurrency");

	tcase_add_test(tc, eight_runners_exactly_once);
	tcase_add_test(tc, two_modules_do_not_block);
	suite_add_tcase(s, tc);
	return s;
}
