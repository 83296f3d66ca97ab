/*
 * Backfill throttles and workers, against the real server: the rows/s cap holds within 5 %
 * over 30 s; batch sizes adapt to a target batch time; the engine pauses while a real
 * streaming replica (tests/replica.sh, replay paused with pg_wal_replay_pause()) lags, and
 * resumes when it catches up; three worker threads are faster than one.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_backfill.h"
#include "base/util.h"

static void *run_thread(void *arg)
{
	bft_run(arg);
	return NULL;
}

START_TEST(rate_cap_holds_over_30_seconds)
{
	struct bft b;
	pthread_t t;
	long r0, r1;
	int64_t t0, t1;
	double rate;

	bft_table("r", 180000);
	bft_init(&b, BFT_UPDATE("r"));
	b.o.throttle.batch_size = 500;
	b.o.throttle.max_rows_per_second = 5000;
	pthread_create(&t, NULL, run_thread, &b);
	sleep(2);
	r0 = bft_rows_done(1);
	t0 = now_us();
	sleep(30);
	r1 = bft_rows_done(1);
	t1 = now_us();
	pthread_join(t, NULL);
	ck_assert_msg(b.rc == 0, "backfill failed: %s", b.err.message);
	rate = (double)(r1 - r0) / ((double)(t1 - t0) / 1e6);
	ck_assert_msg(rate > 5000 * 0.95 && rate < 5000 * 1.05,
		      "measured %.0f rows/s over 30 s, cap 5000", rate);
	ck_assert_int_eq(bft_wrong_rows("r"), 0);
	bft_release(&b);
}
END_TEST

struct times {
	pthread_mutex_t mu;
	int64_t us[4096];
	long size[4096];
	int n;
};

static void on_batch(void *arg, const struct pgphase_backfill_batch *b)
{
	struct times *t = arg;

	pthread_mutex_lock(&t->mu);
	if (t->n < 4096 && b->chunk >= 0) {
		t->us[t->n] = b->elapsed_us;
		t->size[t->n++] = b->batch_size;
	}
	pthread_mutex_unlock(&t->mu);
}

START_TEST(batch_size_adapts_to_target_time)
{
	static struct times tm = { PTHREAD_MUTEX_INITIALIZER, { 0 }, { 0 }, 0 };
	struct bft b;
	int64_t sum = 0;

	bft_table("a", 8000);
	th_exec("CREATE FUNCTION slowly(x int, ms float8) RETURNS int LANGUAGE plpgsql AS"
		" $$BEGIN PERFORM pg_sleep(ms / 1000); RETURN x * 2 + 1; END$$");
	bft_init(&b, "UPDATE a SET new_col = slowly(old_col, 0.5) WHERE new_col IS NULL");
	b.o.throttle.batch_size = 1000; /* about 0.6 s per batch at first */
	b.o.throttle.target_batch_time_ms = 100;
	b.o.on_batch = on_batch;
	b.o.on_batch_arg = &tm;
	ck_assert_msg(bft_run(&b) == 0, "backfill failed: %s", b.err.message);
	ck_assert_int_ge(tm.n, 12);
	ck_assert_int_gt(tm.us[0], 300000);
	/* the last full batches (not a chunk's short tail) are near the target */
	for (int i = tm.n - 8; i < tm.n - 2; i++)
		sum += tm.us[i];
	ck_assert_msg(sum / 6 > 60000 && sum / 6 < 160000, "batches take %lld ms, target 100",
		      (long long)sum / 6000);
	ck_assert_int_lt(tm.size[tm.n - 3], 400);
	ck_assert_int_eq(bft_wrong_rows("a"), 0);
	bft_release(&b);
}
END_TEST

static PGconn *replica_connect(const char *dir, const char *port)
{
	const char *keys[] = { "host", "port", "dbname", "user", NULL };
	const char *vals[] = { dir, port, th_dbname(), "postgres", NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 0);

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "replica: %s", PQerrorMessage(c));
	return c;
}

static void replica_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

START_TEST(pauses_while_replica_lags)
{
	const char *top = getenv("PGPHASE_TEST_TOP");
	char *dir = th_tmpdir(), cmd[1400], port[32] = "";
	long r1, r2, streaming = 0;
	struct bft b;
	pthread_t t;
	PGconn *rep;
	FILE *p;

	bft_table("lag", 200000);
	chmod(dir, 0755); /* the replica runs as the postgres OS user when we are root */
	snprintf(cmd, sizeof(cmd), "sh %s/tests/replica.sh start %s/replica", top ? top : ".", dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(port, sizeof(port), p));
	ck_assert_int_eq(pclose(p), 0);
	port[strcspn(port, "\n")] = '\0';
	snprintf(cmd, sizeof(cmd), "%s/replica", dir);
	rep = replica_connect(cmd, port);
	for (int i = 0; i < 100 && !streaming; i++, usleep(100000))
		streaming = th_long("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'");
	replica_exec(rep, "SELECT pg_wal_replay_pause()");
	bft_init(&b, BFT_UPDATE("lag"));
	b.o.throttle.max_rows_per_second = 20000;
	b.o.throttle.max_replica_lag_ms = 1000;
	pthread_create(&t, NULL, run_thread, &b);
	sleep(4);
	r1 = bft_rows_done(1);
	sleep(3);
	r2 = bft_rows_done(1);
	replica_exec(rep, "SELECT pg_wal_replay_resume()");
	pthread_join(t, NULL);
	PQfinish(rep);
	snprintf(cmd, sizeof(cmd), "sh %s/tests/replica.sh stop %s/replica", top ? top : ".", dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(streaming, 1);
	ck_assert_msg(r1 > 0 && r1 < 100000, "%ld rows done before the pause", r1);
	ck_assert_msg(r1 == r2, "rows kept changing while the replica lagged: %ld then %ld", r1, r2);
	ck_assert_msg(b.rc == 0, "backfill failed: %s", b.err.message);
	ck_assert_int_eq(bft_wrong_rows("lag"), 0);
	bft_release(&b);
	free(dir);
}
END_TEST

/* Seconds to backfill table with workers; every 100th row waits 5 ms (I/O-like latency). */
static double timed(const char *table, int workers)
{
	char sql[300];
	struct bft b;
	int64_t t0 = now_us();

	snprintf(sql, sizeof(sql), "UPDATE %s SET new_col = CASE WHEN id %% 100 = 0"
		 " THEN slowly(old_col, 5) ELSE old_col * 2 + 1 END WHERE new_col IS NULL", table);
	bft_init(&b, sql);
	b.o.throttle.workers = workers;
	b.spec.version = workers;
	ck_assert_msg(bft_run(&b) == 0, "backfill failed: %s", b.err.message);
	ck_assert_int_eq(bft_wrong_rows(table), 0);
	bft_release(&b);
	return (double)(now_us() - t0) / 1e6;
}

START_TEST(three_workers_beat_one)
{
	double one, three;

	th_exec("CREATE FUNCTION slowly(x int, ms float8) RETURNS int LANGUAGE plpgsql AS"
		" $$BEGIN PERFORM pg_sleep(ms / 1000); RETURN x * 2 + 1; END$$");
	bft_table("w1", 100000);
	bft_table("w3", 100000);
	one = timed("w1", 1);
	three = timed("w3", 3);
	ck_assert_msg(three < one * 0.7, "1 worker %.2f s, 3 workers %.2f s", one, three);
	ck_assert_int_eq(bft_rows_done(3), 100000);
}
END_TEST

Suite *backfill_throttle_suite(void)
{
	Suite *s = suite_create("backfill_throttle");
	TCase *db = th_db_tcase("db");

	tcase_add_test(db, rate_cap_holds_over_30_seconds);
	tcase_add_test(db, batch_size_adapts_to_target_time);
	tcase_add_test(db, pauses_while_replica_lags);
	tcase_add_test(db, three_workers_beat_one);
	suite_add_tcase(s, db);
	return s;
}
