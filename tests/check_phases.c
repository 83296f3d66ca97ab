/*
 * The phase commands on a real server: expand / backfill / contract and their states, the
 * contract refusals (backfill not done; NULLs left where NOT NULL is planned), `pgphase
 * plan` changing nothing, plan-time errors that need the catalog (views on a renamed column,
 * no key), lock discipline under a conflicting lock (retries with backoff while the app's
 * SELECT and INSERT never wait longer than lock_timeout + 200 ms), INVALID index cleanup, and
 * phase-aware rollback.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "strategies/fixtures.h"
#include "strategies/support.h"
#include "base/util.h"

static const char *const MIXED =
	"CREATE INDEX t_a_idx ON t (a);\n"
	"ALTER TABLE t ADD CHECK (n > 0);\n"
	"ALTER TABLE t ALTER COLUMN a SET NOT NULL;\n"
	"ALTER TABLE t ADD COLUMN r int NOT NULL;\n"
	"-- BACKFILL\n"
	"UPDATE t SET r = n WHERE r IS NULL;\n";

static char *state_of(int version)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT state || '/' || coalesce(current_phase, '-') FROM "
		 "pgphase.migrations WHERE version = %d", version);
	return th_value(sql);
}

#define assert_state(v, want)                                                                  \
	do {                                                                                   \
		char *st_ = state_of(v);                                                       \
		ck_assert_msg(st_ && strcmp(st_, (want)) == 0, "state of %d: expected %s, got %s", \
			      (v), (want), st_ ? st_ : "(none)");                              \
		free(st_);                                                                     \
	} while (0)

static char *setup(const char *change)
{
	char *dir;

	fx_private_binary();
	dir = fx_dir(FX_TABLE, change, NULL);
	struct th_run r;

	fx_pgphase(&r, dir, "migrate", "--to", "1");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	th_exec(FX_ROWS);
	return dir;
}

START_TEST(test_phase_commands)
{
	char *dir = setup(MIXED);
	struct th_run r;

	fx_pgphase(&r, dir, "expand");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	assert_state(2, "expanded/-");
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_index WHERE indexrelid = 't_a_idx'::regclass"
				 " AND indisvalid"), 1);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_constraint WHERE conname = 't_n_check'"
				 " AND NOT convalidated"), 1);
	/* the old app still inserts without r */
	th_exec("INSERT INTO t (id, a, n) VALUES (5000, 'x', 5000)");

	fx_pgphase(&r, dir, "contract");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "002_change.sql:1: cannot contract: migration is expanded, its "
				  "backfill is not done");
	th_run_release(&r);
	assert_state(2, "expanded/-");

	fx_pgphase(&r, dir, "backfill", "--batch-size", "500");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "3001 rows");
	th_run_release(&r);
	assert_state(2, "backfilled/-");
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass"
				 " AND NOT convalidated"), 0);
	ck_assert_int_eq(th_long("SELECT sum(rows_done) FROM pgphase.backfill_progress"), 3001);
	ck_assert_int_ge(th_long("SELECT sum(batches) FROM pgphase.backfill_progress"), 7);

	fx_pgphase(&r, dir, "contract");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	assert_state(2, "complete/-");
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass"
				 " AND attname IN ('a', 'r') AND attnotnull"), 2);
	fx_pgphase(&r, dir, "history");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	free(dir);
}
END_TEST

START_TEST(test_not_null_with_nulls)
{
	char *dir = setup("ALTER TABLE t ADD COLUMN r int NOT NULL;\n");
	struct th_run r;

	fx_pgphase(&r, dir, "migrate");
	th_assert_exit(&r, 1);
	th_assert_contains(r.err, "002_change.sql:1:1: cannot set NOT NULL: column t.r still has "
				  "3000 rows with NULL");
	th_run_release(&r);
	/* the migration stays backfilled; nothing of contract ran, nothing is lost */
	assert_state(2, "backfilled/contract");
	ck_assert_int_eq(th_long("SELECT count(*) FROM t"), 3000);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass"
				 " AND contype = 'c'"), 0);
	th_exec("UPDATE t SET r = 7");
	fx_pgphase(&r, dir, "contract");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	assert_state(2, "complete/-");
	free(dir);
}
END_TEST

START_TEST(test_plan_command)
{
	char *dir;

	fx_private_binary();
	dir = fx_dir(FX_TABLE, MIXED, NULL);
	struct th_run r;
	json_t *doc;

	fx_pgphase(&r, dir, "plan");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "create-index-concurrently");
	th_assert_contains(r.out, "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_a_idx ON t USING btree (a)");
	th_run_release(&r);
	/* plan changes nothing, not even the state schema */
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	fx_pgphase(&r, dir, "plan", "--format", "json", "--to", "2");
	th_assert_exit(&r, 0);
	doc = json_loads(r.out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", r.out);
	ck_assert_int_eq(json_array_size(json_object_get(doc, "migrations")), 2);
	json_decref(doc);
	th_run_release(&r);
	fx_pgphase(&r, dir, "plan", "--offline");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "set-not-null-via-check");
	th_run_release(&r);
	fx_pgphase(&r, dir, "plan", "--to", "9");
	th_assert_exit(&r, 2);
	th_run_release(&r);
	fx_pgphase(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	free(dir);
}
END_TEST

START_TEST(test_online_plan_errors)
{
	char *dir = setup("ALTER TABLE t RENAME COLUMN a TO b;\n");
	struct th_run r;

	/* a view on the column cannot be carried to a new column: the statement runs as written
	   (tests/check_carry.c holds the end schema to psql's) */
	th_exec("CREATE VIEW tv AS SELECT id, a FROM t");
	fx_pgphase(&r, dir, "plan");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "as-written");
	th_assert_not_contains(r.out, "rename-column-via-sync-trigger");
	th_run_release(&r);
	/* no key */
	th_exec("CREATE TABLE nokey (a int NOT NULL, b text)");
	th_write(dir, "m/002_change.sql", "UPDATE nokey SET b = 'x' WHERE b IS NULL;\n");
	fx_pgphase(&r, dir, "migrate", "--strict"); /* else it runs as written, in expand */
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "cannot run UPDATE on \"nokey\" in batches: cannot find the "
				  "table's key");
	th_run_release(&r);
	/* --key makes it possible; later phases do not need it again */
	fx_pgphase(&r, dir, "backfill", "--key", "a");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	fx_pgphase(&r, dir, "contract");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	assert_state(2, "complete/-");
	free(dir);
}
END_TEST

START_TEST(test_lock_retry)
{
	char *dir;
	char errfile[4200];
	const char *args[] = { "expand", NULL };
	PGconn *holder, *app;
	PGresult *res;
	struct th_run r;
	double start, worst = 0;
	int status, ops = 0;
	pid_t pid;
	char *log;
	size_t len;

	fx_private_binary();
	dir = fx_dir(FX_TABLE, "ALTER TABLE t ADD CHECK (n >= 0);\n",
		     "lock_timeout = \"500ms\";\nlock_retry_budget = \"60s\";\n");
	fx_pgphase(&r, dir, "migrate", "--to", "1");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	th_exec(FX_ROWS);
	holder = th_connect();
	app = th_connect();
	res = PQexec(holder, "BEGIN; SELECT count(*) FROM t");
	PQclear(res);
	snprintf(errfile, sizeof(errfile), "%s/expand.err", dir);
	pid = fx_spawn(dir, args, errfile);
	start = fx_now_ms();
	while (fx_now_ms() - start < 5000) {
		char sql[128];
		double t0 = fx_now_ms(), dt;

		snprintf(sql, sizeof(sql), ops % 2 ? "SELECT count(*) FROM t WHERE id = 1"
						   : "INSERT INTO t VALUES (%d, 'x', 1)", 100000 + ops);
		res = PQexec(app, sql);
		ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK,
			      "app query failed: %s", PQerrorMessage(app));
		PQclear(res);
		dt = fx_now_ms() - t0;
		worst = dt > worst ? dt : worst;
		ops++;
		usleep(5000);
	}
	/* pgphase is still waiting: the conflicting lock is still held */
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
	res = PQexec(holder, "COMMIT");
	PQclear(res);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "expand failed: %d", status);
	ck_assert_msg(worst <= 500 + 200, "an app statement waited %.0f ms (lock_timeout 500 ms)", worst);
	ck_assert_int_gt(ops, 20);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_constraint WHERE conname = 't_n_check'"), 1);
	ck_assert_int_eq(read_file(errfile, &log, &len), 0);
	th_assert_contains(log, "lock not available; retrying in");
	free(log);
	PQfinish(holder);
	PQfinish(app);
	free(dir);
}
END_TEST

START_TEST(test_invalid_index_rebuilt)
{
	char *dir = setup("CREATE UNIQUE INDEX t_n_u ON t (n);\n");
	struct th_run r;
	PGconn *c = th_connect();
	PGresult *res;

	/* a failed concurrent build leaves an INVALID index under the planned name */
	th_exec("UPDATE t SET n = 1 WHERE id <= 2");
	res = PQexec(c, "CREATE UNIQUE INDEX CONCURRENTLY t_n_u ON t (n)");
	ck_assert_int_eq(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
	PQfinish(c);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_index WHERE NOT indisvalid"), 1);
	/* still duplicates: the build fails, and no INVALID index is left behind */
	fx_pgphase(&r, dir, "migrate");
	th_assert_exit(&r, 1);
	th_assert_contains(r.err, "is INVALID");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_index WHERE NOT indisvalid"), 0);
	assert_state(2, "pending/expand");
	th_exec("UPDATE t SET n = id WHERE id <= 2");
	th_exec("CREATE UNIQUE INDEX t_n_u ON t (n) WHERE n < 0");
	th_exec("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 't_n_u'::regclass");
	fx_pgphase(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "index \"t_n_u\" is INVALID");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_index WHERE indexrelid = 't_n_u'::regclass"
				 " AND indisvalid AND indpred IS NULL"), 1);
	free(dir);
}
END_TEST

START_TEST(test_rollback_phase_aware)
{
	char *dir = setup("CREATE INDEX t_a_idx ON t (a);\nALTER TABLE t RENAME COLUMN a TO b;\n"
			  "ALTER TABLE t ALTER COLUMN n TYPE bigint;\nALTER TABLE t ADD CHECK (id > 0);\n");
	char *before = fx_fingerprint(), *after;
	struct th_run r;

	fx_pgphase(&r, dir, "expand");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	/* the rename runs as written (the index made just before on a follows the column, as
	   psql gives): its undo renames back, with the index, the check and the type change's
	   shadow column, trigger and function */
	fx_pgphase(&r, dir, "rollback");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "undid 5 steps");
	th_run_release(&r);
	after = fx_fingerprint();
	ck_assert_str_eq(after, before);
	free(after);
	fx_pgphase(&r, dir, "backfill");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	fx_pgphase(&r, dir, "rollback", "--dry-run");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "rollback");
	th_assert_contains(r.out, "(undo of the");
	th_run_release(&r);
	fx_pgphase(&r, dir, "rollback");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	after = fx_fingerprint();
	ck_assert_str_eq(after, before);
	free(after);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.backfill_progress"), 0);
	/* complete: only a DOWN section can undo it */
	fx_pgphase(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	fx_pgphase(&r, dir, "rollback");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "cannot roll back: migration has no DOWN section");
	th_run_release(&r);
	free(before);
	free(dir);
}
END_TEST

/* A data change the user wrote on rows that existed before, run by the backfill engine: its
 * old values were recorded, so rollback puts them back and drops what expand added. */
START_TEST(test_rollback_needs_down_after_data_change)
{
	char *dir = setup("CREATE INDEX t_a_idx ON t (a);\nUPDATE t SET n = n + 10000 WHERE n < 10000;\n");
	struct th_run r;

	fx_pgphase(&r, dir, "expand");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	fx_pgphase(&r, dir, "backfill");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT sum(n) FROM t"), 34501500);
	fx_pgphase(&r, dir, "rollback");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT sum(n) FROM t"), 4501500);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 't_a_idx'"), 0);
	free(dir);
}
END_TEST

/* Backfilled with a data change: undone from the recorded old values, never by DOWN (written
 * for the complete state); once complete, DOWN runs. */
START_TEST(test_rollback_down_after_data_change)
{
	char *dir = setup("CREATE INDEX t_a_idx ON t (a);\nUPDATE t SET n = n + 10000 WHERE n < 10000;\n"
			  "-- DOWN\nUPDATE t SET n = n - 10000;\nDROP INDEX t_a_idx;\n");
	struct th_run r;

	fx_pgphase(&r, dir, "backfill");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT sum(n) FROM t"), 34501500);
	fx_pgphase(&r, dir, "rollback", "--dry-run");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "the old values its backfill recorded");
	th_run_release(&r);
	fx_pgphase(&r, dir, "rollback");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT sum(n) FROM t"), 4501500);
	fx_pgphase(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	fx_pgphase(&r, dir, "rollback", "--dry-run");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "(DOWN section)");
	th_assert_contains(r.out, "UPDATE t SET n = n - 10000;");
	th_run_release(&r);
	fx_pgphase(&r, dir, "rollback");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT sum(n) FROM t"), 4501500);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 't_a_idx'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE version = 2"), 0);
	free(dir);
}
END_TEST


/*
 * The deploy order is told at every stage, by the phase commands and by status: backfill
 * before the new app (new columns are NULL on existing rows until then), the new app and the
 * old app's retirement before contract, and the way out of a stopped migration.
 */
static void assert_status_next(const char *dir, const char *action, const char *text)
{
	struct th_run r;
	json_t *root, *next;

	fx_pgphase(&r, dir, "status");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, text);
	th_run_release(&r);
	fx_pgphase(&r, dir, "status", "--format", "json");
	th_assert_exit(&r, 0);
	root = json_loads(r.out, 0, NULL);
	ck_assert_ptr_nonnull(root);
	next = json_object_get(root, "next_step");
	ck_assert_str_eq(json_string_value(json_object_get(next, "action")), action);
	json_decref(root);
	th_run_release(&r);
}

START_TEST(test_next_step_told)
{
	char *dir = setup(MIXED);
	struct th_run r;

	assert_status_next(dir, "expand", "next: pending migrations: start a staged deploy");
	fx_pgphase(&r, dir, "expand");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "Do not deploy the new app yet: existing rows are not filled; "
				  "run: pgphase backfill");
	th_run_release(&r);
	assert_status_next(dir, "backfill", "run: pgphase backfill");

	fx_pgphase(&r, dir, "backfill");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "next: deploy the new app version, then retire every instance "
				  "of the old one; only then contract");
	th_run_release(&r);
	assert_status_next(dir, "deploy", "run: pgphase contract");

	fx_pgphase(&r, dir, "contract");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "next: nothing to do: every migration is complete");
	th_run_release(&r);
	assert_status_next(dir, "up-to-date", "next: nothing to do");

	/* a migration stopped by a failure: fix and rerun, or roll back */
	th_write(dir, "m/003_fails.sql", "ALTER TABLE t ADD COLUMN z int;\n"
					 "-- BACKFILL\nUPDATE t SET z = 1 / (id - id);\n");
	fx_pgphase(&r, dir, "backfill");
	th_assert_exit(&r, 1);
	th_run_release(&r);
	assert_status_next(dir, "resume", "rerun the command that failed");
	free(dir);
}
END_TEST

Suite *phases_suite(void)
{
	Suite *s = suite_create("phases");
	TCase *tc = th_db_tcase("phases");

	tcase_add_test(tc, test_phase_commands);
	tcase_add_test(tc, test_not_null_with_nulls);
	tcase_add_test(tc, test_plan_command);
	tcase_add_test(tc, test_online_plan_errors);
	tcase_add_test(tc, test_lock_retry);
	tcase_add_test(tc, test_invalid_index_rebuilt);
	tcase_add_test(tc, test_rollback_phase_aware);
	tcase_add_test(tc, test_rollback_needs_down_after_data_change);
	tcase_add_test(tc, test_rollback_down_after_data_change);
	tcase_add_test(tc, test_next_step_told);
	suite_add_tcase(s, tc);
	return s;
}
