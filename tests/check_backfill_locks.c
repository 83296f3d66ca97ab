/*
 * Backfill engine under concurrency and faults, against the real server: rows the
 * application holds locked are skipped without blocking and swept after release; kill -9 of
 * the engine at 20 seeded random points of a 1,000,000-row backfill loses and repeats
 * nothing; three processes share one backfill.  "Exactly once" is checked twice: a trigger
 * counts the changes of every row, and the engine's own counters must add up to the rows.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_backfill.h"
#include "base/util.h"

START_TEST(locked_rows_are_skipped_then_swept)
{
	struct bft_walk_stats ws = BFT_WALK_STATS_INIT;
	struct bft_app_txn app = { NULL, 10000, 0 };
	struct bft b;
	pthread_t t;
	PGresult *r;

	bft_table("t", 60000);
	/* the application holds 100 rows locked for 10 s */
	app.conn = th_connect();
	r = PQexec(app.conn, "BEGIN; SELECT id FROM t WHERE id % 600 = 0 FOR UPDATE");
	ck_assert_int_eq(PQntuples(r), 100);
	PQclear(r);
	pthread_create(&t, NULL, bft_commit_later, &app);
	bft_init(&b, BFT_UPDATE("t"));
	b.o.on_batch = bft_on_batch;
	b.o.on_batch_arg = &ws;
	ck_assert_msg(bft_run(&b) == 0, "backfill failed: %s", b.err.message);
	pthread_join(t, NULL);
	PQfinish(app.conn);
	/* no walk batch waited for the application's locks (lock_timeout is 1 s) */
	ck_assert_msg(ws.max_walk_us < 500000, "a walk batch took %lld ms",
		      (long long)ws.max_walk_us / 1000);
	ck_assert_msg(ws.last_walk_end_us < app.released_us, "the walk waited for the locks");
	/* the 100 rows were swept once released */
	ck_assert_msg(ws.first_sweep_us >= app.released_us, "swept before the locks were released");
	ck_assert_int_eq(b.res.rows_swept, 100);
	ck_assert_int_eq(b.res.rows, 60000);
	ck_assert_int_eq(bft_wrong_rows("t"), 0);
	ck_assert_int_eq(bft_rows_done(1), 60000);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.backfill_skipped"), 0);
	bft_release(&b);
}
END_TEST

START_TEST(kill_9_twenty_times)
{
	struct bft b;
	unsigned seed = 20261122;
	long rows = getenv("PGPHASE_TEST_KILL_ROWS") ? atol(getenv("PGPHASE_TEST_KILL_ROWS"))
						     : 1000000;
	int landed = 0;

	bft_table("big", rows);
	bft_init(&b, BFT_UPDATE("big"));
	for (int i = 0; i < 20; i++) {
		int status;
		pid_t pid = bft_fork(&b);
		/* seeded random point: 20 ms .. 270 ms into the run */
		useconds_t at = (useconds_t)(20000 + rand_r(&seed) % 250000);

		usleep(at);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status) && bft_rows_done(1) < rows)
			landed++; /* killed in the middle of the backfill */
		else /* finished before the kill */
			ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	/* the kills did interrupt it, at 20 points but maybe the last few */
	ck_assert_msg(landed >= 15, "only %d kills landed during the backfill", landed);
	ck_assert_msg(bft_run(&b) == 0, "final run failed: %s", b.err.message);
	ck_assert_int_eq(bft_wrong_rows("big"), 0);
	ck_assert_int_eq(b.res.rows, rows);
	ck_assert_int_eq(bft_rows_done(1), rows);
	ck_assert_int_eq(th_long("SELECT count(*) FROM big WHERE touched = 1"), rows);
	bft_release(&b);
}
END_TEST

START_TEST(three_processes_share_one_backfill)
{
	struct bft b;
	pid_t pids[3];

	bft_table("shared", 300000);
	bft_init(&b, BFT_UPDATE("shared"));
	for (int i = 0; i < 3; i++)
		pids[i] = bft_fork(&b);
	for (int i = 0; i < 3; i++) {
		int status;

		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "process %d failed (status %d)", i, status);
	}
	ck_assert_int_eq(bft_wrong_rows("shared"), 0);
	ck_assert_int_eq(bft_rows_done(1), 300000);
	/* every process walked some chunks (claimed_by is "host pid/worker") */
	ck_assert_int_ge(th_long("SELECT count(DISTINCT split_part(claimed_by, '/', 1))"
				 "  FROM pgphase.backfill_progress WHERE chunk >= 0"), 2);
	bft_release(&b);
}
END_TEST

Suite *backfill_locks_suite(void)
{
	Suite *s = suite_create("backfill_locks");
	TCase *db = th_db_tcase("db");

	tcase_add_test(db, locked_rows_are_skipped_then_swept);
	tcase_add_test(db, kill_9_twenty_times);
	tcase_add_test(db, three_processes_share_one_backfill);
	suite_add_tcase(s, db);
	return s;
}
