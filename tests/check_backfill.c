/*
 * Backfill engine: statement checks (pure), then against the real server: a plain and a
 * composite-key walk, resume as a no-op, DELETE and joined statements, explicit keys, and
 * the bad inputs — no key, nullable key, key column changed, a WHERE that cannot tell done
 * rows, statement_timeout (halve, then a clear error with progress kept), a table dropped
 * while the backfill is paused.  Helpers for the other backfill suites live here too.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_backfill.h"
#include "pgphase/log.h"
#include "base/progress.h"
#include "backfill/throttle.h"
#include "base/util.h"

void bft_init(struct bft *b, const char *sql)
{
	memset(b, 0, sizeof(*b));
	pgphase_config_init(&b->cfg);
	pgphase_config_set(&b->cfg.database, th_conninfo());
	pgphase_backfill_options_init(&b->o, &b->cfg);
	b->o.progress = PGPHASE_PROGRESS_NONE;
	ck_assert_msg(pgphase_sql_parse(&b->sql, sql, "<test>", &b->err) == 0, "parse: %s",
		      b->err.message);
	b->spec.stmt = b->sql.stmts[0].node;
	b->spec.version = 1;
}

int bft_run(struct bft *b)
{
	struct pgphase_session s;

	pgphase_error_release(&b->err);
	pgphase_error_init(&b->err);
	pgphase_backfill_result_release(&b->res);
	b->o.throttle.workers = b->o.throttle.workers > 0 ? b->o.throttle.workers : 1;
	if (pgphase_session_open(&s, &b->cfg, "backfill", &b->err) < 0)
		return b->rc = -1;
	b->rc = pgphase_backfill_run(&s, &b->spec, &b->o, &b->res, &b->err);
	pgphase_session_close(&s);
	return b->rc;
}

void bft_release(struct bft *b)
{
	pgphase_backfill_result_release(&b->res);
	pgphase_sql_release(&b->sql);
	pgphase_error_release(&b->err);
	pgphase_config_release(&b->cfg);
}

pid_t bft_fork(struct bft *b)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(bft_run(b) == 0 ? 0 : (b->err.code ? b->err.code : 1));
	return pid;
}

void bft_table(const char *name, long n)
{
	char sql[1024];

	snprintf(sql, sizeof(sql),
		 "CREATE FUNCTION %1$s_touch() RETURNS trigger LANGUAGE plpgsql AS"
		 " $$BEGIN NEW.touched := OLD.touched + 1; RETURN NEW; END$$;"
		 "CREATE TABLE %1$s (id bigint PRIMARY KEY, old_col int NOT NULL, new_col int,"
		 "  touched int NOT NULL DEFAULT 0);"
		 "CREATE TRIGGER %1$s_touch BEFORE UPDATE ON %1$s FOR EACH ROW"
		 "  EXECUTE FUNCTION %1$s_touch();"
		 "INSERT INTO %1$s (id, old_col) SELECT g, g %% 997 FROM generate_series(1, %2$ld) g;"
		 "ANALYZE %1$s", name, n);
	th_exec(sql);
}

long bft_wrong_rows(const char *name)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE touched <> 1"
		 " OR new_col IS DISTINCT FROM old_col * 2 + 1", name);
	return th_long(sql);
}

long bft_rows_done(long v)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT coalesce(sum(rows_done), 0) FROM pgphase.backfill_progress"
		 " WHERE version = %ld", v);
	return th_long(sql);
}

/* ---- pure: which statements may run in batches ---- */

int bft_check(const char *sql, int line, struct pgphase_error *err)
{
	struct pgphase_sql parsed;
	struct pgphase_backfill_spec spec = { 0 };
	int rc;

	pgphase_error_release(err);
	pgphase_error_init(err);
	ck_assert_int_eq(pgphase_sql_parse(&parsed, sql, "x.sql", err), 0);
	spec.stmt = parsed.stmts[0].node;
	spec.file = "x.sql";
	spec.line = line;
	spec.column = 1;
	rc = pgphase_backfill_check(&spec, err);
	pgphase_sql_release(&parsed);
	return rc;
}

void *bft_commit_later(void *arg)
{
	struct bft_app_txn *a = arg;
	PGresult *r;

	usleep((useconds_t)a->hold_ms * 1000);
	r = PQexec(a->conn, "COMMIT");
	PQclear(r);
	a->released_us = now_us();
	return NULL;
}

void bft_on_batch(void *arg, const struct pgphase_backfill_batch *b)
{
	struct bft_walk_stats *ws = arg;

	pthread_mutex_lock(&ws->mu);
	if (b->chunk >= 0) {
		if (b->elapsed_us > ws->max_walk_us)
			ws->max_walk_us = b->elapsed_us;
		ws->last_walk_end_us = now_us();
	} else if (b->rows > 0 && !ws->first_sweep_us) {
		ws->first_sweep_us = now_us();
	}
	pthread_mutex_unlock(&ws->mu);
}

/* Placed at line 3 in this suite's messages. */
static int check(const char *sql, struct pgphase_error *err)
{
	return bft_check(sql, 3, err);
}

START_TEST(check_statements)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;

	ck_assert_int_eq(check("UPDATE t SET b = a WHERE b IS NULL", &err), 0);
	ck_assert_int_eq(check("UPDATE t AS x SET b = a WHERE x.b IS DISTINCT FROM x.a", &err), 0);
	ck_assert_int_eq(check("DELETE FROM t", &err), 0);
	ck_assert_int_eq(check("DELETE FROM t USING u WHERE t.a = u.a", &err), 0);
	ck_assert_int_eq(check("UPDATE t SET b = a + 1", &err), -1);
	ck_assert_int_eq(err.code, PGPHASE_EXIT_USAGE);
	th_assert_contains(err.message, "x.sql:3:1: UPDATE of \"t\" cannot run in batches");
	th_assert_contains(err.message, "is missing");
	th_assert_contains(err.hint, "pgphase:as-is");
	pgphase_error_release(&err);
	ck_assert_int_eq(check("UPDATE t SET b = b + 1 WHERE a > 5", &err), -1);
	th_assert_contains(err.message, "names no column the UPDATE sets");
	pgphase_error_release(&err);
	ck_assert_int_eq(check("UPDATE t SET b = 1 WHERE b IS NULL RETURNING *", &err), -1);
	th_assert_contains(err.message, "WITH or RETURNING");
	pgphase_error_release(&err);
	ck_assert_int_eq(check("INSERT INTO t SELECT * FROM u", &err), -1);
	pgphase_error_release(&err);
}
END_TEST

START_TEST(throttle_schedule)
{
	struct pgphase_backfill_config c = { 1000, 0, 5000, 100, 0, 1 };
	struct throttle t;
	int64_t t0 = now_us(), s1, s2;

	throttle_init(&t, &c);
	/* absolute schedule: 5000 rows at 5000 rows/s -> 1 s after the start, then 2 s */
	s1 = throttle_next_start(&t, 5000);
	s2 = throttle_next_start(&t, 5000);
	ck_assert_int_ge(s1 - t0, 990000);
	ck_assert_int_le(s1 - t0, 1010000);
	ck_assert_int_eq(s2 - s1, 1000000);
	/* adaptive size: halfway to the size that would hit the target, at most 2x a batch */
	ck_assert_int_eq(throttle_adapt(&t, 1000, 400000, 100000), 625);
	ck_assert_int_eq(throttle_adapt(&t, 1000, 4000000, 100000), 513);
	ck_assert_int_eq(throttle_adapt(&t, 1000, 10000, 100000), 2000);
	ck_assert_int_eq(throttle_adapt(&t, 1000, 10000, 1500), 1500); /* capped */
	throttle_release(&t);
}
END_TEST

START_TEST(progress_formats)
{
	char b[32];

	progress_fmt_count(b, sizeof(b), 1234);
	ck_assert_str_eq(b, "1234");
	progress_fmt_count(b, sizeof(b), 920000);
	ck_assert_str_eq(b, "920.0k");
	progress_fmt_count(b, sizeof(b), 2000000);
	ck_assert_str_eq(b, "2.00M");
	progress_fmt_eta(b, sizeof(b), 185);
	ck_assert_str_eq(b, "3m05s");
	progress_fmt_eta(b, sizeof(b), -1);
	ck_assert_str_eq(b, "?");
}
END_TEST

/* ---- db ---- */

START_TEST(walks_and_resumes)
{
	struct bft b;

	bft_table("t", 25000);
	bft_init(&b, BFT_UPDATE("t"));
	b.o.throttle.batch_size = 700;
	ck_assert_msg(bft_run(&b) == 0, "backfill failed: %s", b.err.message);
	ck_assert_int_eq(bft_wrong_rows("t"), 0);
	ck_assert_int_eq(b.res.rows, 25000);
	ck_assert_int_eq(b.res.rows_run, 25000);
	ck_assert_int_eq(b.res.rows_swept, 0);
	ck_assert_int_ge(b.res.batches, 25000 / 700);
	ck_assert_str_eq(b.res.table, "t");
	ck_assert_int_eq(bft_rows_done(1), 25000);
	/* a rerun finds every chunk walked: nothing changes twice */
	ck_assert_msg(bft_run(&b) == 0, "rerun failed: %s", b.err.message);
	ck_assert_int_eq(b.res.rows_run, 0);
	ck_assert_int_eq(b.res.rows, 25000);
	ck_assert_int_eq(bft_wrong_rows("t"), 0);
	bft_release(&b);
}
END_TEST

START_TEST(composite_key_and_delete)
{
	struct bft b;
	struct pgphase_backfill_status *st;
	size_t n;
	struct pgphase_session s;

	th_exec("CREATE SCHEMA app;"
		"CREATE TABLE app.c (a int NOT NULL, b text NOT NULL, v int, PRIMARY KEY (a, b));"
		"INSERT INTO app.c SELECT g % 50, 'k' || g, NULL FROM generate_series(1, 30000) g;"
		"ANALYZE app.c");
	bft_init(&b, "UPDATE app.c AS x SET v = x.a * 10 WHERE x.v IS NULL");
	b.o.throttle.batch_size = 999;
	ck_assert_msg(bft_run(&b) == 0, "backfill failed: %s", b.err.message);
	ck_assert_int_eq(th_long("SELECT count(*) FROM app.c WHERE v IS DISTINCT FROM a * 10"), 0);
	ck_assert_int_eq(b.res.rows, 30000);
	bft_release(&b);
	/* DELETE with USING, as a second step of the same migration */
	th_exec("CREATE TABLE app.gone (a int PRIMARY KEY); INSERT INTO app.gone VALUES (3), (7)");
	bft_init(&b, "DELETE FROM app.c USING app.gone g WHERE c.a = g.a");
	b.spec.step = 1;
	ck_assert_msg(bft_run(&b) == 0, "delete failed: %s", b.err.message);
	ck_assert_int_eq(th_long("SELECT count(*) FROM app.c"), 30000 - 1200);
	ck_assert_int_eq(b.res.rows, 1200);
	/* status: one entry per step, both done */
	ck_assert_int_eq(pgphase_session_open(&s, &b.cfg, "status", &b.err), 0);
	ck_assert_int_eq(pgphase_backfill_status_load(&s, -1, &st, &n, &b.err), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(st[0].rows_done, 30000);
	ck_assert(st[0].done && st[1].done);
	ck_assert_str_eq(st[1].table, "app.c");
	ck_assert_int_eq(st[1].rows_done, 1200);
	pgphase_backfill_status_free(st, n);
	pgphase_session_close(&s);
	bft_release(&b);
}
END_TEST

/*
 * Between the first and the last chunk a walk batch takes one round trip: BEGIN, settings,
 * the batch with its own claim (SQL_WALK_FAST with SQL_CLAIM_CTE, prepared) and COMMIT in one pipeline.  The
 * bounds come back from the claimed progress row as text cast to the key's types, so the key
 * here is text with quotes and non-ASCII plus timestamptz, in an order unlike the rows'.
 */
START_TEST(one_round_trip_per_batch)
{
	struct bft b;
	char *log;
	size_t len;
	FILE *f = open_memstream(&log, &len);
	long claimed = 0;

	bft_table("r", 20000);
	th_exec("ALTER TABLE r DISABLE TRIGGER r_touch;"
		"ALTER TABLE r ADD COLUMN name text, ADD COLUMN at timestamptz;"
		"UPDATE r SET name = 'it''s \"' || (id % 7) || '\" ü', at = timestamptz"
		"  '2026-01-01 00:00:00.123456+00' + (20000 - id) * interval '1.5 s';"
		"ALTER TABLE r ALTER name SET NOT NULL, ALTER at SET NOT NULL,"
		"  DROP CONSTRAINT r_pkey, ADD PRIMARY KEY (name, at);"
		"ALTER TABLE r ENABLE TRIGGER r_touch");
	th_exec("VACUUM ANALYZE r");
	bft_init(&b, BFT_UPDATE("r"));
	b.o.throttle.batch_size = 300;
	pgphase_log_set_level(PGPHASE_LOG_VERBOSE);
	pgphase_log_set_stream(f);
	bft_run(&b);
	pgphase_log_set_stream(NULL);
	pgphase_log_set_level(PGPHASE_LOG_INFO);
	fclose(f);
	ck_assert_msg(b.rc == 0, "backfill failed: %s", b.err.message);
	ck_assert_int_eq(bft_wrong_rows("r"), 0);
	ck_assert_int_eq(b.res.rows, 20000);
	th_assert_contains(log, "sql: PREPARE pgphase_bf_walk_");
	for (const char *p = log; (p = strstr(p, "sql: WITH pgphase_claim AS")) != NULL; p++)
		claimed++;
	/* every batch but those of the first and last chunk (and one that finds none left) */
	ck_assert_msg(claimed >= b.res.batches / 2 && claimed <= b.res.batches + 1,
		      "%ld one-trip batches of %lld", claimed, b.res.batches);
	free(log);
	bft_release(&b);
}
END_TEST

/*
 * SIGINT while a one-trip batch (BEGIN ... COMMIT in one pipeline) runs on the server: the
 * statement is cancelled, the batch's data and its cursor advance roll back together, the
 * exit code is 1, and a rerun finishes with every row changed exactly once.
 */
START_TEST(sigint_during_pipelined_batch)
{
	struct bft b;
	pid_t pid;
	int status;
	int64_t waited = 0;

	bft_table("si", 20000);
	th_exec("CREATE FUNCTION si_slow() RETURNS trigger LANGUAGE plpgsql AS"
		" $$BEGIN PERFORM pg_sleep(0.0005); RETURN NEW; END$$;"
		"CREATE TRIGGER si_slow BEFORE UPDATE ON si FOR EACH ROW EXECUTE FUNCTION si_slow()");
	bft_init(&b, BFT_UPDATE("si"));
	b.o.throttle.batch_size = 400;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pgphase_install_signal_handlers();
		_exit(bft_run(&b) == 0 ? 0 : (b.err.code ? b.err.code : 99));
	}
	while (th_long("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
		       " AND query LIKE 'WITH pgphase_claim AS%'") == 0) {
		usleep(2000);
		waited += 2;
		ck_assert_msg(waited < 30000, "no one-trip batch seen running");
	}
	kill(pid, SIGINT);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), PGPHASE_EXIT_FAILED);
	/* what committed: whole batches, their counters with them; nothing changed twice */
	ck_assert_int_eq(th_long("SELECT count(*) FROM si WHERE touched > 1"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM si WHERE touched = 1"), bft_rows_done(1));
	ck_assert_int_lt(bft_rows_done(1), 20000);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_stat_activity WHERE"
				 " query LIKE 'WITH pgphase_claim AS%'"), 0);
	/* the rerun picks up where the cancelled batch left off */
	th_exec("DROP TRIGGER si_slow ON si");
	ck_assert_msg(bft_run(&b) == 0, "rerun failed: %s", b.err.message);
	ck_assert_int_eq(bft_wrong_rows("si"), 0);
	ck_assert_int_eq(b.res.rows, 20000);
	ck_assert_int_eq(bft_rows_done(1), 20000);
	bft_release(&b);
}
END_TEST

START_TEST(keys_bad_input)
{
	struct bft b;

	th_exec("CREATE TABLE nokey (a int, b int); INSERT INTO nokey SELECT g, NULL FROM "
		"generate_series(1, 100) g;"
		"CREATE TABLE uk (a int NOT NULL, b int); CREATE UNIQUE INDEX ON uk (a);"
		"INSERT INTO uk SELECT g, NULL FROM generate_series(1, 100) g");
	bft_init(&b, "UPDATE nokey SET b = a WHERE b IS NULL");
	b.spec.file = "003_fill.sql";
	b.spec.line = 4;
	b.spec.column = 1;
	ck_assert_int_eq(bft_run(&b), -1);
	ck_assert_int_eq(b.err.code, PGPHASE_EXIT_USAGE);
	th_assert_contains(b.err.message, "003_fill.sql:4:1: cannot run UPDATE on \"nokey\" in "
			   "batches: cannot find the table's key");
	th_assert_contains(b.err.hint, "--key");
	/* an explicit key must be NOT NULL */
	b.spec.key = "a";
	ck_assert_int_eq(bft_run(&b), -1);
	th_assert_contains(b.err.message, "backfill key column \"a\" of \"nokey\" is nullable");
	b.spec.key = "zz";
	ck_assert_int_eq(bft_run(&b), -1);
	th_assert_contains(b.err.message, "column \"zz\" does not exist");
	bft_release(&b);
	/* a unique index over NOT NULL columns is a key */
	bft_init(&b, "UPDATE uk SET b = a WHERE b IS NULL");
	ck_assert_msg(bft_run(&b) == 0, "uk: %s", b.err.message);
	ck_assert_int_eq(th_long("SELECT count(*) FROM uk WHERE b IS DISTINCT FROM a"), 0);
	bft_release(&b);
	/* changing the key column would move rows along the walk */
	bft_init(&b, "UPDATE uk SET a = a + 1000 WHERE a < 1000");
	ck_assert_int_eq(bft_run(&b), -1);
	th_assert_contains(b.err.message, "changes key column \"a\"");
	bft_release(&b);
	bft_init(&b, "UPDATE missing SET b = 1 WHERE b IS NULL");
	ck_assert_int_eq(bft_run(&b), -1);
	th_assert_contains(b.err.message, "cannot backfill \"missing\": the table does not exist");
	bft_release(&b);
}
END_TEST

START_TEST(statement_timeout_halves)
{
	struct bft b;
	struct pgphase_backfill_status *st;
	struct pgphase_session s;
	size_t n;

	/* 2 ms per row: 1000 rows take 2 s, 125 rows 0.25 s */
	bft_table("slow", 1500);
	th_exec("CREATE FUNCTION slowly(x int, ms float8) RETURNS int LANGUAGE plpgsql AS"
		" $$BEGIN PERFORM pg_sleep(ms / 1000); RETURN x * 2 + 1; END$$");
	bft_init(&b, "UPDATE slow SET new_col = slowly(old_col, 2) WHERE new_col IS NULL");
	b.cfg.statement_timeout_ms = 400;
	ck_assert_msg(bft_run(&b) == 0, "backfill failed: %s", b.err.message);
	ck_assert_int_le(b.res.final_batch_size, 200);
	ck_assert_int_eq(bft_wrong_rows("slow"), 0);
	bft_release(&b);
	/* a row alone slower than the timeout: a clear error after the halvings, state kept */
	th_exec("UPDATE slow SET new_col = NULL, touched = 0 WHERE id > 1400");
	bft_init(&b, "UPDATE slow SET new_col = slowly(old_col, 300) WHERE new_col IS NULL");
	b.spec.version = 2;
	b.cfg.statement_timeout_ms = 100;
	b.o.max_halvings = 4;
	b.o.throttle.batch_size = 64;
	ck_assert_int_eq(bft_run(&b), -1);
	th_assert_contains(b.err.message, "still exceeds statement_timeout (100 ms) after 4 halvings");
	th_assert_contains(b.err.hint, "progress so far is kept");
	ck_assert_int_eq(pgphase_session_open(&s, &b.cfg, "status", &b.err), 0);
	ck_assert_int_eq(pgphase_backfill_status_load(&s, 2, &st, &n, &b.err), 0);
	ck_assert_int_eq(n, 1);
	ck_assert(!st[0].done);
	ck_assert_int_eq(st[0].rows_estimate, 100);
	pgphase_backfill_status_free(st, n);
	pgphase_session_close(&s);
	bft_release(&b);
}
END_TEST

static void *run_thread(void *arg)
{
	bft_run(arg);
	return NULL;
}

START_TEST(table_dropped_while_paused)
{
	struct bft b;
	pthread_t t;

	bft_table("dropme", 5000);
	bft_init(&b, BFT_UPDATE("dropme"));
	b.o.throttle.batch_size = 100;
	b.o.throttle.sleep_ms = 300;
	pthread_create(&t, NULL, run_thread, &b);
	usleep(700 * 1000);
	th_exec("DROP TABLE dropme");
	pthread_join(t, NULL);
	ck_assert_int_eq(b.rc, -1);
	th_assert_contains(b.err.message, "backfill of \"dropme\" stopped: the table was dropped");
	th_assert_contains(b.err.hint, "progress is kept");
	ck_assert_int_gt(bft_rows_done(1), 0);
	/* and a rerun says the table is gone, before changing anything */
	ck_assert_int_eq(bft_run(&b), -1);
	ck_assert_int_eq(b.err.code, PGPHASE_EXIT_USAGE);
	th_assert_contains(b.err.message, "the table does not exist");
	bft_release(&b);
}
END_TEST

START_TEST(progress_lines)
{
	struct bft b;
	char *text;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	bft_table("p", 20000);
	bft_init(&b, BFT_UPDATE("p"));
	b.o.progress = PGPHASE_PROGRESS_LINES;
	b.o.progress_interval_ms = 100;
	b.o.progress_stream = f;
	b.o.throttle.batch_size = 500;
	b.o.throttle.max_rows_per_second = 40000;
	ck_assert_msg(bft_run(&b) == 0, "backfill failed: %s", b.err.message);
	fclose(f);
	th_assert_contains(text, "backfill \"p\": ");
	th_assert_contains(text, "rows/s, eta ");
	th_assert_contains(text, "backfill \"p\": 20.0k rows done in ");
	free(text);
	bft_release(&b);
}
END_TEST

Suite *backfill_suite(void)
{
	Suite *s = suite_create("backfill");
	TCase *pure = th_pure_tcase("pure"), *db = th_db_tcase("db");

	tcase_add_test(pure, check_statements);
	tcase_add_test(pure, throttle_schedule);
	tcase_add_test(pure, progress_formats);
	tcase_add_test(db, walks_and_resumes);
	tcase_add_test(db, composite_key_and_delete);
	tcase_add_test(db, one_round_trip_per_batch);
	tcase_add_test(db, sigint_during_pipelined_batch);
	tcase_add_test(db, keys_bad_input);
	tcase_add_test(db, statement_timeout_halves);
	tcase_add_test(db, table_dropped_while_paused);
	tcase_add_test(db, progress_lines);
	suite_add_tcase(s, pure);
	suite_add_tcase(s, db);
	return s;
}
