/*
 * Resume after a failed migration was fixed in place (issue 15): the rerun is defined by
 * step identity, not position.  A migration fails at step k; then the file is fixed (the
 * rerun resumes and the schema equals psql -1 of the fixed file), or a step that ran is
 * removed, edited, or a statement is inserted before it (exit 2 naming it, nothing changed),
 * or the plan shrinks below the resume point (no spin: an answer within seconds), in a
 * no-transaction file, across phases, on state tables of an older pgphase, and SIGINT stops
 * a rerun within a second.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define RUN(r, dir, ...) th_pgphase((r), (dir), __VA_ARGS__, NULL)
#define M2 "002_users.sql"

/* Mixed-case names, a name with a space, a non-public schema, a foreign key. */
static const char BASE[] =
	"CREATE SCHEMA \"App\";\n"
	"CREATE TABLE \"App\".\"Users\" (id bigint PRIMARY KEY, \"E mail\" text, n int NOT NULL);\n"
	"CREATE TABLE \"App\".orders (id bigint PRIMARY KEY,\n"
	"  user_id bigint REFERENCES \"App\".\"Users\");\n"
	"INSERT INTO \"App\".\"Users\" SELECT g, 'u' || (g % 50),\n"
	"  CASE WHEN g = 150 THEN 0 ELSE 1 + g % 7 END FROM generate_series(1, 200) g;\n";

/* Steps 1 and 3 are transactional, 2 and 4 are index builds outside a transaction: step 4
 * fails on the duplicate e-mails after steps 1-3 committed. */
#define S1 "CREATE TABLE \"App\".\"Audit Log\" (id bigserial PRIMARY KEY, note text);\n"
#define S2 "CREATE INDEX \"Users_n\" ON \"App\".\"Users\" (n);\n"
#define S3 "COMMENT ON TABLE \"App\".\"Audit Log\" IS 'who did what';\n"
#define S4_BAD "CREATE UNIQUE INDEX \"Users_E mail\" ON \"App\".\"Users\" (\"E mail\");\n"
#define S4_FIX "CREATE INDEX \"Users_E mail\" ON \"App\".\"Users\" (\"E mail\");\n"
#define S5 "CREATE VIEW \"App\".user_mail AS SELECT id, \"E mail\" FROM \"App\".\"Users\";\n"
#define INSERTED "CREATE TABLE \"App\".\"Extra\" (x int);\n"

/* The state row of version 2, as one text. */
static char *state_row(void)
{
	return th_value("SELECT row(state, current_phase, next_step, checksum, last_error)::text "
			"FROM pgphase.migrations WHERE version = 2");
}

/* Apply BASE as 001, then m2 as 002, which must fail (exit 1) at file line fail_line. */
static char *failed_run(const char *m2, int fail_line)
{
	char *dir = th_tmpdir(), where[64];
	struct th_run r;

	th_write(dir, "001_base.sql", BASE);
	th_write(dir, M2, m2);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 1);
	snprintf(where, sizeof(where), M2 ":%d:", fail_line);
	if (fail_line) /* the backfill engine's errors do not say where */
		th_assert_contains(r.err, where);
	th_run_release(&r);
	return dir;
}

/* The rerun with m2 in place must refuse (exit 2) naming want, and change nothing. */
static void assert_refused(const char *dir, const char *m2, const char *want)
{
	char *before = th_snapshot(th_dbname()), *row = state_row(), *after, *row2;
	struct th_run r;

	th_write(dir, M2, m2);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, want);
	th_assert_contains(r.err, "nothing was changed");
	th_run_release(&r);
	after = th_snapshot(th_dbname());
	row2 = state_row();
	ck_assert_msg(strcmp(before, after) == 0, "the refused rerun changed the schema");
	ck_assert_str_eq(row, row2);
	free(before);
	free(after);
	free(row);
	free(row2);
}

/* The database equals psql -1 of BASE then m2 (oracle text: m2 itself unless given). */
static void assert_like_psql(const char *m2)
{
	char *odir = th_tmpdir(), *db = th_extra_db("psql"), *out = NULL, path[4096];

	th_write(odir, "base.sql", BASE);
	th_write(odir, "m2.sql", m2);
	snprintf(path, sizeof(path), "%s/base.sql", odir);
	ck_assert_msg(th_psql_file(db, path, &out) == 0, "psql base: %s", out);
	free(out);
	snprintf(path, sizeof(path), "%s/m2.sql", odir);
	ck_assert_msg(th_psql_file(db, path, &out) == 0, "psql m2: %s", out);
	free(out);
	th_assert_same_schema(db, th_dbname());
	free(db);
	free(odir);
}

static void assert_complete(void)
{
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE state = 'complete' "
				 "AND last_error IS NULL"), 2);
}

/* Start pgphase -d db -m dir args... with its output in a file; returns the pid. */
static pid_t spawn(const char *dir, const char *outfile, const char *const *args)
{
	const char *bin = getenv("PGPHASE_BIN");
	const char *argv[16] = { bin, "-d", th_conninfo(), "-m", dir };
	size_t n = 5;
	pid_t pid;

	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (!freopen(outfile, "w", stderr) || !freopen("/dev/null", "w", stdout))
			_exit(127);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait up to secs for pid: its exit status, or -1 after killing it (it did not stop). */
static int wait_limited(pid_t pid, double secs)
{
	double end = now_s() + secs;
	int st;

	while (now_s() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 16);

	if (f) {
		size_t n = fread(buf, 1, (1 << 16) - 1, f);

		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

/* (a) the failed statement fixed in place: resumes at it, completes, equals psql -1 */
START_TEST(fix_failed_step_resumes)
{
	char *dir = failed_run(S1 S2 S3 S4_BAD S5, 4);
	struct th_run r;

	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.steps WHERE version = 2 AND done"), 3);
	th_write(dir, M2, S1 S2 S3 S4_FIX S5);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "the steps that already ran are unchanged: resuming at step 4 "
			   "of expand");
	th_run_release(&r);
	assert_complete();
	/* records are only kept while a migration is unfinished */
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.steps"), 0);
	assert_like_psql(S1 S2 S3 S4_FIX S5);
	free(dir);
}
END_TEST

/* (b) a step that ran removed from the file: exit 2 naming it, nothing changed */
START_TEST(removed_step_refused)
{
	char *dir = failed_run(S1 S2 S3 S4_BAD S5, 4);
	struct th_run r;

	assert_refused(dir, S1 S3 S4_FIX S5,
		       M2 ":2: step 2 of expand already ran and is no longer in the file");
	/* restoring it lets the fix through */
	th_write(dir, M2, S1 S2 S3 S4_FIX S5);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	assert_like_psql(S1 S2 S3 S4_FIX S5);
	free(dir);
}
END_TEST

/*
 * (c) a statement inserted before steps that ran would never run: exit 2 naming it.  One
 * inserted after them, right before the failed step, runs.
 */
START_TEST(inserted_step_refused_or_run)
{
	char *dir = failed_run(S1 S2 S3 S4_BAD S5, 4);
	struct th_run r;

	assert_refused(dir, INSERTED S1 S2 S3 S4_FIX S5,
		       M2 ":1: step 1 of expand is new, before steps that already ran");
	assert_refused(dir, S1 S2 INSERTED S3 S4_FIX S5,
		       M2 ":3: step 3 of expand is new, before steps that already ran");
	th_write(dir, M2, S1 S2 S3 INSERTED S4_FIX S5);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE tablename = 'Extra'"), 1);
	assert_like_psql(S1 S2 S3 INSERTED S4_FIX S5);
	free(dir);
}
END_TEST

/*
 * (d) the plan shrinks to fewer steps than the resume point: never a spin.  Steps that ran
 * removed: exit 2 within seconds; only the failed step and those after it removed: the
 * phase finishes, within seconds.
 */
START_TEST(fewer_steps_than_resume_point)
{
	char *dir = failed_run(S1 S2 S3 S4_BAD S5, 4);
	char out[4096], *text;
	const char *args[] = { "migrate", NULL };
	pid_t pid;
	int st;

	snprintf(out, sizeof(out), "%s/stderr", dir);
	th_write(dir, M2, S1 S2);
	pid = spawn(dir, out, args);
	st = wait_limited(pid, 10);
	text = slurp(out);
	ck_assert_msg(st == 2, "expected exit 2 within 10 s, got %d (-1: still running)\n%s", st,
		      text);
	th_assert_contains(text, M2 ":3: step 3 of expand already ran");
	free(text);
	th_write(dir, M2, S1 S2 S3);
	pid = spawn(dir, out, args);
	st = wait_limited(pid, 10);
	text = slurp(out);
	ck_assert_msg(st == 0, "expected exit 0 within 10 s, got %d (-1: still running)\n%s", st,
		      text);
	free(text);
	assert_complete();
	assert_like_psql(S1 S2 S3);
	free(dir);
}
END_TEST

/* (e) a step that ran edited (a constant is enough): exit 2 naming it, nothing changed */
START_TEST(edited_step_refused)
{
	char *dir = failed_run(S1 S2 S3 S4_BAD S5, 4);

	assert_refused(dir,
		       S1 S2 "COMMENT ON TABLE \"App\".\"Audit Log\" IS 'who did it';\n" S4_FIX S5,
		       M2 ":3: step 3 of expand is not the step that ran there (line 3 as it was)");
	assert_refused(dir,
		       S1 "CREATE INDEX \"Users_n\" ON \"App\".\"Users\" (n) WHERE n > 0;\n" S3
		       S4_FIX S5,
		       M2 ":2: step 2 of expand is not the step that ran there");
	free(dir);
}
END_TEST

/* (f) a no-transaction file of CREATE INDEX CONCURRENTLY failing mid-way, then fixed */
START_TEST(no_transaction_file_fixed)
{
	static const char head[] = "-- pgphase:no-transaction\n"
		"CREATE INDEX CONCURRENTLY \"Users_n\" ON \"App\".\"Users\" (n);\n";
	static const char tail[] =
		"CREATE INDEX CONCURRENTLY users_id_n ON \"App\".\"Users\" (id, n);\n";
	char *dir, m2[1024];
	struct th_run r;

	snprintf(m2, sizeof(m2), "%sCREATE UNIQUE INDEX CONCURRENTLY \"Users_E mail\" ON "
		 "\"App\".\"Users\" (\"E mail\");\n%s", head, tail);
	dir = failed_run(m2, 3);
	/* the index that was built edited: refused */
	snprintf(m2, sizeof(m2), "-- pgphase:no-transaction\nCREATE INDEX CONCURRENTLY \"Users_n\" "
		 "ON \"App\".\"Users\" (n DESC);\nCREATE INDEX CONCURRENTLY \"Users_E mail\" ON "
		 "\"App\".\"Users\" (\"E mail\");\n%s", tail);
	assert_refused(dir, m2, M2 ":2: step 1 of expand is not the step that ran there");
	snprintf(m2, sizeof(m2), "%sCREATE INDEX CONCURRENTLY \"Users_E mail\" ON \"App\".\"Users\" "
		 "(\"E mail\");\n%s", head, tail);
	th_write(dir, M2, m2);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "resuming at step 2 of expand");
	th_run_release(&r);
	assert_complete();
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_index WHERE NOT indisvalid"), 0);
	/* the oracle: the same indexes built inside psql's transaction */
	assert_like_psql(S2 S4_FIX "CREATE INDEX users_id_n ON \"App\".\"Users\" (id, n);\n");
	free(dir);
}
END_TEST

#define G_EXPAND "ALTER TABLE \"App\".\"Users\" ADD COLUMN score int;\n"
#define G_BACKFILL(expr) \
	"-- BACKFILL\n-- pgphase:batch-size 20\n" \
	"UPDATE \"App\".\"Users\" SET score = " expr " WHERE score IS NULL;\n"
#define G_DATA "SELECT string_agg(id || ':' || coalesce(score::text, '-'), ',' ORDER BY id) " \
	"FROM \"App\".\"Users\""

/*
 * (g) a fix across phases: the backfill fails mid-way (row 150 divides by zero) after expand
 * finished; editing the expand step is refused, fixing the backfill statement resumes it and
 * ends with psql's schema and data.
 */
START_TEST(fix_across_phases)
{
	char *dir = failed_run(G_EXPAND G_BACKFILL("100 / n"), 0), *db, *odir, *out = NULL;
	char path[4096], *want, *got;
	struct th_run r;

	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE version = 2 AND "
				 "state = 'expanded' AND current_phase = 'backfill'"), 1);
	ck_assert_int_gt(th_long("SELECT count(*) FROM \"App\".\"Users\" WHERE score IS NOT NULL"),
			 0);
	assert_refused(dir, "ALTER TABLE \"App\".\"Users\" ADD COLUMN score bigint;\n"
		       G_BACKFILL("coalesce(100 / nullif(n, 0), -1)"),
		       M2 ":1: step 1 of expand is not the step that ran there");
	th_write(dir, M2, G_EXPAND G_BACKFILL("coalesce(100 / nullif(n, 0), -1)"));
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "resuming at step 1 of backfill");
	th_run_release(&r);
	assert_complete();
	assert_like_psql(G_EXPAND G_BACKFILL("coalesce(100 / nullif(n, 0), -1)"));
	/* and the data: every row once, as psql's run left it */
	db = th_extra_db("data");
	odir = th_tmpdir();
	th_write(odir, "all.sql", BASE);
	th_write(odir, "m2.sql", G_EXPAND G_BACKFILL("coalesce(100 / nullif(n, 0), -1)"));
	snprintf(path, sizeof(path), "%s/all.sql", odir);
	ck_assert_int_eq(th_psql_file(db, path, NULL), 0);
	snprintf(path, sizeof(path), "%s/m2.sql", odir);
	ck_assert_int_eq(th_psql_file(db, path, &out), 0);
	free(out);
	{
		char *ci = th_conninfo_for(db);
		PGconn *c = PQconnectdb(ci);
		PGresult *res = PQexec(c, G_DATA);

		want = strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		PQfinish(c);
		free(ci);
	}
	got = th_value(G_DATA);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	free(odir);
	free(db);
	free(dir);
}
END_TEST

/*
 * (h) SIGINT stops a rerun within a second: the rerun of a plan that shrank below the
 * resume point (it used to spin, ignoring signals), and a resumed step waiting for a lock
 * the application holds; the rerun after that completes.
 */
START_TEST(sigint_stops_rerun)
{
	char *dir = failed_run(S1 S2 S3 S4_BAD S5, 4), out[4096], *text;
	const char *args[] = { "migrate", NULL };
	PGconn *app;
	PGresult *res;
	struct th_run r;
	double t;
	pid_t pid;
	int st;

	snprintf(out, sizeof(out), "%s/stderr", dir);
	th_write(dir, M2, S1);
	pid = spawn(dir, out, args);
	usleep(1500 * 1000);
	kill(pid, SIGINT);
	st = wait_limited(pid, 1);
	text = slurp(out);
	ck_assert_msg(st >= 0, "still running 1 s after SIGINT\n%s", text);
	free(text);

	th_write(dir, M2, S1 S2 S3 S4_FIX S5);
	app = th_connect();
	res = PQexec(app, "BEGIN; LOCK TABLE \"App\".\"Users\" IN ACCESS EXCLUSIVE MODE");
	ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	pid = spawn(dir, out, args);
	usleep(2500 * 1000);
	kill(pid, SIGINT);
	t = now_s();
	st = wait_limited(pid, 1);
	text = slurp(out);
	ck_assert_msg(st == 1, "expected exit 1 within 1 s of SIGINT, got %d (-1: still running), "
		      "%.2f s\n%s", st, now_s() - t, text);
	th_assert_contains(text, "interrupted");
	free(text);
	PQfinish(app);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	assert_like_psql(S1 S2 S3 S4_FIX S5);
	free(dir);
}
END_TEST

/*
 * State tables of an older pgphase (version 2: no step records): status and migrate read
 * their rows instead of seeing nothing; a fix in place resumes by position, bounded by the
 * new plan (fewer steps: exit 2, no spin).
 */
START_TEST(older_state_tables)
{
	char *dir = failed_run(S1 S2 S3 S4_BAD S5, 4), out[4096], *text;
	const char *args[] = { "migrate", NULL };
	struct th_run r;
	pid_t pid;
	int st;

	th_exec("DROP TABLE pgphase.steps;"
		"ALTER TABLE pgphase.migrations DROP COLUMN steps_recorded;"
		"ALTER TABLE pgphase.events DROP COLUMN rows_swept, DROP COLUMN batches;"
		"UPDATE pgphase.meta SET value = '2' WHERE key = 'schema_version'");
	RUN(&r, dir, "status");
	th_assert_contains(r.out, "resumes at step 4");
	th_run_release(&r);
	snprintf(out, sizeof(out), "%s/stderr", dir);
	th_write(dir, M2, S1 S2);
	pid = spawn(dir, out, args);
	st = wait_limited(pid, 10);
	text = slurp(out);
	ck_assert_msg(st == 2, "expected exit 2 within 10 s, got %d (-1: still running)\n%s", st,
		      text);
	th_assert_contains(text, "3 steps of expand already ran, but the file now plans 2");
	free(text);
	th_write(dir, M2, S1 S2 S3 S4_FIX S5);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "resuming at step 4 of expand by position");
	th_run_release(&r);
	assert_complete();
	assert_like_psql(S1 S2 S3 S4_FIX S5);
	free(dir);
}
END_TEST

Suite *resume_suite(void)
{
	Suite *s = suite_create("resume");
	TCase *tc = th_db_tcase("resume");

	tcase_add_test(tc, fix_failed_step_resumes);
	tcase_add_test(tc, removed_step_refused);
	tcase_add_test(tc, inserted_step_refused_or_run);
	tcase_add_test(tc, fewer_steps_than_resume_point);
	tcase_add_test(tc, edited_step_refused);
	tcase_add_test(tc, no_transaction_file_fixed);
	tcase_add_test(tc, fix_across_phases);
	tcase_add_test(tc, sigint_stops_rerun);
	tcase_add_test(tc, older_state_tables);
	suite_add_tcase(s, tc);
	return s;
}
