/*
 * INSERT ... SELECT through the backfill engine: which statements may run in batches (pure),
 * then against the real server: a copy walks the source table's key and resumes as a no-op,
 * three workers share it, a composite-key source survives kill -9 at several seeded points,
 * source rows the application holds (or is deleting) are skipped without waiting and swept
 * after release, and `pgphase migrate` refuses an INSERT that cannot tell rows already
 * copied before changing anything.
 *
 * "Exactly once" for an INSERT: a BEFORE INSERT trigger on the target counts, per key, every
 * row the engine proposed for insertion in committed transactions (it fires even for rows
 * ON CONFLICT DO NOTHING then drops, and a rolled-back batch takes its counts with it), so a
 * batch repeated after a crash would show as a count of 2.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_backfill.h"
#include "base/util.h"

/* ---- pure ---- */

/* Placed at line 7 in this suite's messages. */
static int check(const char *sql, struct pgphase_error *err)
{
	return bft_check(sql, 7, err);
}

START_TEST(insert_statements)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;

	/* idempotent: ON CONFLICT, or an anti-join against the target as a top-level condition */
	ck_assert_int_eq(check("INSERT INTO n (id, a) SELECT id, f(b) FROM o WHERE b > 0"
			       " ON CONFLICT (id) DO NOTHING", &err), 0);
	ck_assert_int_eq(check("INSERT INTO n SELECT * FROM o ON CONFLICT (id) DO UPDATE"
			       " SET a = excluded.a", &err), 0);
	ck_assert_int_eq(check("INSERT INTO s.n (id) SELECT o.id FROM s.o AS o WHERE o.b > 0 AND"
			       " NOT EXISTS (SELECT 1 FROM s.n WHERE n.id = o.id)", &err), 0);
	ck_assert_int_eq(check("INSERT INTO n (id) SELECT o.id FROM o, lookup l WHERE o.k = l.k"
			       " AND NOT EXISTS (SELECT FROM n x WHERE x.id = o.id)", &err), 0);
	/* neither: refused with the position and the as-is hint */
	ck_assert_int_eq(check("INSERT INTO n (id) SELECT id FROM o WHERE b > 0", &err), -1);
	ck_assert_int_eq(err.code, PGPHASE_EXIT_USAGE);
	th_assert_contains(err.message, "x.sql:7:1: INSERT into \"n\" cannot run in batches: it "
			   "has neither ON CONFLICT nor");
	th_assert_contains(err.hint, "ON CONFLICT (key) DO NOTHING");
	th_assert_contains(err.hint, "pgphase:as-is");
	/* an anti-join under OR does not hold for every row; one against another table neither */
	ck_assert_int_eq(check("INSERT INTO n (id) SELECT id FROM o WHERE b > 0 OR NOT EXISTS"
			       " (SELECT 1 FROM n WHERE n.id = o.id)", &err), -1);
	th_assert_contains(err.message, "cannot tell rows already copied");
	ck_assert_int_eq(check("INSERT INTO n (id) SELECT id FROM o WHERE NOT EXISTS"
			       " (SELECT 1 FROM other WHERE other.id = o.id)", &err), -1);
	/* shapes a batch cannot compute piecewise, or without a table to walk */
	ck_assert_int_eq(check("INSERT INTO n (k, c) SELECT k, count(*) FROM o GROUP BY k"
			       " ON CONFLICT DO NOTHING", &err), -1);
	th_assert_contains(err.message, "GROUP BY");
	ck_assert_int_eq(check("INSERT INTO n SELECT * FROM o LIMIT 10 ON CONFLICT DO NOTHING", &err),
			 -1);
	ck_assert_int_eq(check("INSERT INTO n SELECT * FROM o UNION SELECT * FROM p"
			       " ON CONFLICT DO NOTHING", &err), -1);
	ck_assert_int_eq(check("INSERT INTO n SELECT * FROM (SELECT * FROM o) x"
			       " ON CONFLICT DO NOTHING", &err), -1);
	th_assert_contains(err.message, "first item of its FROM list must be a table");
	ck_assert_int_eq(check("INSERT INTO o SELECT id + 1000 FROM o ON CONFLICT DO NOTHING", &err),
			 -1);
	th_assert_contains(err.message, "reads the table it inserts into");
	ck_assert_int_eq(check("WITH x AS (SELECT 1) INSERT INTO n SELECT * FROM o"
			       " ON CONFLICT DO NOTHING", &err), -1);
	th_assert_contains(err.message, "WITH or RETURNING");
	ck_assert_int_eq(check("INSERT INTO n SELECT * FROM o ON CONFLICT DO NOTHING RETURNING id",
			       &err), -1);
	ck_assert_int_eq(check("INSERT INTO n VALUES (1)", &err), -1);
	pgphase_error_release(&err);
}
END_TEST

/* ---- db ---- */

/*
 * Source src(id bigint PRIMARY KEY, b int) with rows 1..n; target dst(id bigint PRIMARY KEY,
 * v int); seen(id, n): how often each id was proposed to dst in committed transactions.
 */
static void tables(long n)
{
	char sql[1536];

	snprintf(sql, sizeof(sql),
		 "CREATE TABLE src (id bigint PRIMARY KEY, b int NOT NULL);"
		 "INSERT INTO src SELECT g, g %% 991 FROM generate_series(1, %ld) g;"
		 "CREATE TABLE dst (id bigint PRIMARY KEY, v int NOT NULL);"
		 "CREATE TABLE seen (id bigint PRIMARY KEY, n int NOT NULL);"
		 "CREATE FUNCTION count_seen() RETURNS trigger LANGUAGE plpgsql AS"
		 " $$BEGIN INSERT INTO seen VALUES (NEW.id, 1)"
		 "   ON CONFLICT (id) DO UPDATE SET n = seen.n + 1; RETURN NEW; END$$;"
		 "CREATE TRIGGER dst_seen BEFORE INSERT ON dst FOR EACH ROW EXECUTE FUNCTION count_seen();"
		 "ANALYZE src", n);
	th_exec(sql);
}

#define COPY_SQL "INSERT INTO dst (id, v) SELECT s.id, s.b * 2 + 1 FROM src s ON CONFLICT (id) DO NOTHING"

/* Rows of src missing from dst or copied wrong, plus ids proposed more than once. */
static long wrong_copies(void)
{
	return th_long("SELECT (SELECT count(*) FROM src s LEFT JOIN dst d USING (id)"
		       "         WHERE d.v IS DISTINCT FROM s.b * 2 + 1)"
		       "     + (SELECT count(*) FROM seen WHERE n <> 1)"
		       "     + (SELECT count(*) FROM dst d WHERE NOT EXISTS"
		       "          (SELECT 1 FROM src s WHERE s.id = d.id))");
}

START_TEST(insert_walks_source_and_resumes)
{
	struct bft b;

	tables(40000);
	/* copied earlier, e.g. by a sync trigger (not counted: the engine's proposals are) */
	th_exec("INSERT INTO dst VALUES (17, 35); TRUNCATE seen");
	bft_init(&b, COPY_SQL);
	b.o.throttle.batch_size = 900;
	ck_assert_msg(bft_run(&b) == 0, "backfill failed: %s", b.err.message);
	ck_assert_str_eq(b.res.table, "src");
	/* the row already there is not counted: ON CONFLICT DO NOTHING returned nothing */
	ck_assert_int_eq(b.res.rows, 39999);
	ck_assert_int_eq(bft_rows_done(1), 39999);
	ck_assert_int_ge(b.res.batches, 40000 / 900);
	ck_assert_int_eq(th_long("SELECT count(*) FROM dst"), 40000);
	ck_assert_int_eq(wrong_copies(), 0);
	/* a rerun finds every chunk walked */
	ck_assert_msg(bft_run(&b) == 0, "rerun failed: %s", b.err.message);
	ck_assert_int_eq(b.res.rows_run, 0);
	ck_assert_int_eq(th_long("SELECT max(n) FROM seen"), 1);
	bft_release(&b);
	/* the same copy by three workers, as step 1: each row exactly once */
	th_exec("TRUNCATE dst, seen");
	bft_init(&b, COPY_SQL);
	b.spec.step = 1;
	b.o.throttle.batch_size = 500;
	b.o.throttle.workers = 3;
	ck_assert_msg(bft_run(&b) == 0, "3 workers: %s", b.err.message);
	ck_assert_int_eq(b.res.rows, 40000);
	ck_assert_int_eq(wrong_copies(), 0);
	bft_release(&b);
}
END_TEST

START_TEST(insert_composite_key_kill_9)
{
	struct bft b;
	unsigned seed = 20261123;
	long rows = 300000;
	int landed = 0;
	char *key;

	/* composite-key source in another schema, an anti-join instead of ON CONFLICT */
	th_exec("CREATE SCHEMA app;"
		"CREATE TABLE app.src (a int NOT NULL, b text NOT NULL, v int NOT NULL,"
		"  PRIMARY KEY (a, b));"
		"INSERT INTO app.src SELECT g % 97, 'k' || g, g FROM generate_series(1, 300000) g;"
		"CREATE TABLE app.dst (a int NOT NULL, b text NOT NULL, w int NOT NULL,"
		"  PRIMARY KEY (a, b));"
		"CREATE TABLE app.seen (a int, b text, n int NOT NULL, PRIMARY KEY (a, b));"
		"CREATE FUNCTION app.count_seen() RETURNS trigger LANGUAGE plpgsql AS"
		" $$BEGIN INSERT INTO app.seen VALUES (NEW.a, NEW.b, 1)"
		"   ON CONFLICT (a, b) DO UPDATE SET n = seen.n + 1; RETURN NEW; END$$;"
		"CREATE TRIGGER dst_seen BEFORE INSERT ON app.dst FOR EACH ROW"
		"  EXECUTE FUNCTION app.count_seen();"
		"ANALYZE app.src");
	bft_init(&b, "INSERT INTO app.dst (a, b, w) SELECT x.a, x.b, x.v * 3 FROM app.src AS x"
		     " WHERE NOT EXISTS (SELECT 1 FROM app.dst d WHERE d.a = x.a AND d.b = x.b)");
	b.o.throttle.batch_size = 2000;
	for (int i = 0; i < 8; i++) {
		int status;
		pid_t pid = bft_fork(&b);
		/* seeded random point: 30 ms .. 330 ms into the run */
		useconds_t at = (useconds_t)(30000 + rand_r(&seed) % 300000);

		usleep(at);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status) && bft_rows_done(1) < rows)
			landed++;
		else
			ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	ck_assert_msg(landed >= 5, "only %d kills landed during the backfill", landed);
	ck_assert_msg(bft_run(&b) == 0, "final run failed: %s", b.err.message);
	ck_assert_int_eq(b.res.rows, rows);
	ck_assert_int_eq(bft_rows_done(1), rows);
	ck_assert_int_eq(th_long("SELECT count(*) FROM app.dst"), rows);
	ck_assert_int_eq(th_long("SELECT count(*) FROM app.src s JOIN app.dst d USING (a, b)"
				 " WHERE d.w = s.v * 3"), rows);
	ck_assert_int_eq(th_long("SELECT count(*) FROM app.seen WHERE n = 1"), rows);
	ck_assert_int_eq(th_long("SELECT count(*) FROM app.seen"), rows);
	key = th_value("SELECT DISTINCT key_columns FROM pgphase.backfill_progress");
	ck_assert_str_eq(key, "a, b");
	free(key);
	bft_release(&b);
}
END_TEST

START_TEST(insert_skips_locked_and_deleted_source_rows)
{
	struct bft_walk_stats ws = BFT_WALK_STATS_INIT;
	struct bft_app_txn app = { NULL, 4000, 0 }, del = { NULL, 4000, 0 };
	struct bft b;
	pthread_t t1, t2;
	PGresult *r;

	tables(60000);
	/* one app transaction holds 100 source rows; another is deleting 50 others (a sync
	   trigger would delete their copies — none exist yet) */
	app.conn = th_connect();
	r = PQexec(app.conn, "BEGIN; SELECT id FROM src WHERE id % 600 = 0 FOR UPDATE");
	ck_assert_int_eq(PQntuples(r), 100);
	PQclear(r);
	del.conn = th_connect();
	r = PQexec(del.conn, "BEGIN; DELETE FROM src WHERE id % 1200 = 7");
	ck_assert_int_eq(atoi(PQcmdTuples(r)), 50);
	PQclear(r);
	pthread_create(&t1, NULL, bft_commit_later, &app);
	pthread_create(&t2, NULL, bft_commit_later, &del);
	bft_init(&b, COPY_SQL);
	b.o.on_batch = bft_on_batch;
	b.o.on_batch_arg = &ws;
	ck_assert_msg(bft_run(&b) == 0, "backfill failed: %s", b.err.message);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	PQfinish(app.conn);
	PQfinish(del.conn);
	/* the walk never waited for the application (lock_timeout is 1 s, each wait 50 ms) */
	ck_assert_msg(ws.max_walk_us < 500000, "a walk batch took %lld ms",
		      (long long)ws.max_walk_us / 1000);
	ck_assert_msg(ws.last_walk_end_us < app.released_us, "the walk waited for the locks");
	/* the held rows were swept after release; the deleted ones were never copied */
	ck_assert_int_eq(b.res.rows_swept, 100);
	ck_assert_int_eq(b.res.rows, 60000 - 50);
	ck_assert_int_eq(th_long("SELECT count(*) FROM dst WHERE id % 1200 = 7"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM dst"), 60000 - 50);
	ck_assert_int_eq(wrong_copies(), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.backfill_skipped"), 0);
	bft_release(&b);
}
END_TEST

START_TEST(insert_refused_by_migrate)
{
	char *dir = th_tmpdir();
	struct th_run r;

	th_exec("CREATE TABLE src (id bigint PRIMARY KEY, b int NOT NULL);"
		"INSERT INTO src SELECT g, g FROM generate_series(1, 100) g");
	th_write(dir, "001_copy.sql",
		 "CREATE TABLE dst (id bigint PRIMARY KEY, v int);\n"
		 "-- BACKFILL\n"
		 "INSERT INTO dst (id, v)\n"
		 "  SELECT id, b FROM src GROUP BY id, b;\n");
	/* a batch would see only some rows: run as written, or refused under --strict */
	th_pgphase(&r, dir, "migrate", "--strict", NULL);
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "001_copy.sql:3:1: strict: ");
	th_assert_contains(r.err, "cannot run INSERT ... SELECT in batches when the SELECT has");
	th_assert_contains(r.err, "pgphase:as-is");
	th_run_release(&r);
	/* nothing changed: not even the state schema */
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 'dst'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	/* with the anti-join it plans as a batched backfill over src and runs */
	th_write(dir, "001_copy.sql",
		 "CREATE TABLE dst (id bigint PRIMARY KEY, v int);\n"
		 "-- BACKFILL\n"
		 "-- pgphase:batch-size 30\n"
		 "INSERT INTO dst (id, v)\n"
		 "  SELECT id, b FROM src WHERE NOT EXISTS (SELECT 1 FROM dst d WHERE d.id = src.id);\n");
	th_pgphase(&r, dir, "plan", NULL);
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "backfill");
	th_assert_contains(r.out, "data-change-to-backfill");
	th_run_release(&r);
	th_pgphase(&r, dir, "migrate", NULL);
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "100 rows");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM dst d JOIN src s USING (id) WHERE d.v = s.b"),
			 100);
	ck_assert_int_ge(th_long("SELECT sum(batches) FROM pgphase.backfill_progress"), 4);
	/* as-is: runs once as written */
	th_write(dir, "002_again.sql",
		 "-- BACKFILL\n"
		 "-- pgphase:as-is\n"
		 "INSERT INTO dst (id, v) SELECT id + 1000, b FROM src;\n");
	th_pgphase(&r, dir, "migrate", NULL);
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM dst"), 200);
	free(dir);
}
END_TEST

Suite *backfill_insert_suite(void)
{
	Suite *s = suite_create("backfill_insert");
	TCase *pure = th_pure_tcase("pure"), *db = th_db_tcase("db");

	tcase_add_test(pure, insert_statements);
	tcase_add_test(db, insert_walks_source_and_resumes);
	tcase_add_test(db, insert_composite_key_kill_9);
	tcase_add_test(db, insert_skips_locked_and_deleted_source_rows);
	tcase_add_test(db, insert_refused_by_migrate);
	suite_add_tcase(s, pure);
	suite_add_tcase(s, db);
	return s;
}
