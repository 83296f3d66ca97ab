/*
 * Crash consistency (issue 7): a multi-migration plan using every strategy plus a
 * 200,000-row backfill, with pgphase SIGKILLed at 30+ seeded random points (seed printed;
 * PGPHASE_CRASH_SEED replays a run) and rerun each time, and separately a PostgreSQL restart
 * (pg_ctl restart -m fast) in the middle of the backfill.  At the end the schema
 * (pg_dump --schema-only) equals an uninterrupted run's, every row was backfilled exactly
 * once, the state tables agree, and status says complete.  (pg_dump's random \restrict
 * key lines are dropped before comparing.)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define BIG_ROWS 200000

static const struct {
	const char *name, *sql;
} plan_files[] = {
	{ "001_schema.sql",
	  "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, n int);\n"
	  "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, total int);\n"
	  "CREATE TABLE items (id bigint PRIMARY KEY, v text);\n"
	  "CREATE TABLE k (id int, v text);\n"
	  "CREATE TABLE legacy (id int);\n"
	  "CREATE TABLE acct (id bigint PRIMARY KEY, code text, qty int NOT NULL);\n"
	  "CREATE TABLE old_name (id bigint PRIMARY KEY, x int);\n"
	  "CREATE TABLE big (id bigint PRIMARY KEY, old int NOT NULL, new int, hits int NOT NULL DEFAULT 0);\n"
	  "CREATE INDEX users_name_idx ON users (name);\n" },
	{ "002_users_email_idx.sql", "CREATE INDEX users_email_idx ON users (email);\n" },
	{ "003_drop_name_idx.sql", "DROP INDEX users_name_idx;\n" },
	{ "004_orders_fk.sql", "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);\n" },
	{ "005_orders_check.sql", "ALTER TABLE orders ADD CHECK (total >= 0);\n" },
	{ "006_email_not_null.sql", "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n" },
	{ "007_required_column.sql",
	  "ALTER TABLE users ADD COLUMN r int NOT NULL;\n-- BACKFILL\nUPDATE users SET r = n WHERE r IS NULL;\n" },
	{ "008_items_unique.sql", "ALTER TABLE items ADD CONSTRAINT items_v_key UNIQUE (v);\n" },
	{ "009_k_primary_key.sql", "ALTER TABLE k ADD PRIMARY KEY (id);\n" },
	{ "010_drop_legacy.sql", "DROP TABLE legacy;\n" },
	{ "011_rename_column.sql", "ALTER TABLE acct RENAME COLUMN code TO account_code;\n" },
	{ "012_retype.sql", "ALTER TABLE acct ALTER COLUMN qty TYPE bigint;\n" },
	{ "013_rename_table.sql", "ALTER TABLE old_name RENAME TO new_name;\n" },
	{ "014_big_backfill.sql", "UPDATE big SET new = old * 2 + 1, hits = hits + 1 WHERE new IS NULL;\n" },
	{ "015_volatile_default.sql",
	  "ALTER TABLE items ADD COLUMN created timestamptz NOT NULL DEFAULT clock_timestamp();\n" },
};

static const char SEED_SQL[] =
	"INSERT INTO users SELECT g, 'u' || g, 'n' || g, g FROM generate_series(1, 3000) g;"
	"INSERT INTO orders SELECT g, g, g FROM generate_series(1, 3000) g;"
	"INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 3000) g;"
	"INSERT INTO k SELECT g, 'k' || g FROM generate_series(1, 3000) g;"
	"INSERT INTO legacy SELECT g FROM generate_series(1, 100) g;"
	"INSERT INTO acct SELECT g, 'c' || g, g FROM generate_series(1, 3000) g;"
	"INSERT INTO old_name SELECT g, g FROM generate_series(1, 3000) g;"
	"INSERT INTO big (id, old) SELECT g, g FROM generate_series(1, 200000) g;";

/* Write the plan's files and apply 001 + seed data to the current test database. */
static char *prepare(void)
{
	char *dir = th_tmpdir();
	struct th_run r;

	for (size_t i = 0; i < sizeof(plan_files) / sizeof(plan_files[0]); i++)
		th_write(dir, plan_files[i].name, plan_files[i].sql);
	th_pgphase(&r, dir, "migrate", "--to", "1", NULL);
	th_assert_exit(&r, 0);
	th_run_release(&r);
	th_exec(SEED_SQL);
	return dir;
}

static pid_t start_migrate(const char *dir)
{
	const char *bin = getenv("PGPHASE_BIN");
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execl(bin, bin, "-d", th_conninfo(), "-m", dir, "--lock-wait", "60", "migrate",
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Everything the end state is judged by, as one string (malloc'd). */
static char *end_state(const char *db)
{
	char cmd[1024], *out = calloc(1, 1 << 20);
	size_t len = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "pg_dump --schema-only --no-owner -h '%s' -p '%s' -U postgres -d '%s' 2>&1 | "
		 "grep -v '^--' | grep -v '^$' | grep -v '^.restrict' | grep -v '^.unrestrict'",
		 getenv("PGHOST"), getenv("PGPORT"), db);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	len = fread(out, 1, (1 << 20) - 1, p);
	out[len] = '\0';
	pclose(p);
	return out;
}

static void assert_complete_and_exactly_once(const char *dir)
{
	struct th_run r;

	ck_assert_int_eq(th_long("SELECT count(*) FROM big WHERE new = old * 2 + 1 AND hits = 1"), BIG_ROWS);
	ck_assert_int_eq(th_long("SELECT count(*) FROM big WHERE hits <> 1 OR new IS NULL"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM users WHERE r = n"), 3000);
	ck_assert_int_eq(th_long("SELECT count(*) FROM acct WHERE account_code = 'c' || id"), 3000);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE state <> 'complete'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 15);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.events WHERE type = 'migration.completed'"), 15);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_index WHERE NOT indisvalid"), 0);
	th_pgphase(&r, dir, "status", "--format", "json", NULL);
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "\"applied_count\": 15");
	th_assert_contains(r.out, "\"in_progress_count\": 0");
	th_run_release(&r);
}

/* The reference: the same plan, uninterrupted, in its own database. */
static char *reference_state(const char *dir)
{
	char *ci = th_conninfo_for("postgres"), *state, ref[80], refci[512];
	PGconn *c = PQconnectdb(ci);
	PGresult *res;
	struct th_run r;

	snprintf(ref, sizeof(ref), "%s_ref", th_dbname());
	snprintf(refci, sizeof(refci), "%s", ci);
	{
		char sql[160];

		snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0", ref);
		res = PQexec(c, sql);
		ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
	}
	free(ci);
	ci = th_conninfo_for(ref);
	{
		const char *a1[] = { "-d", ci, "-m", dir, "migrate", "--to", "1", NULL };
		PGconn *rc = PQconnectdb(ci);

		th_cli(&r, NULL, NULL, a1);
		th_assert_exit(&r, 0);
		th_run_release(&r);
		res = PQexec(rc, SEED_SQL);
		ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		PQfinish(rc);
	}
	{
		const char *a2[] = { "-d", ci, "-m", dir, "migrate", NULL };

		th_cli(&r, NULL, NULL, a2);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	state = end_state(ref);
	{
		char sql[160];

		snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", ref);
		res = PQexec(c, sql);
		PQclear(res);
	}
	PQfinish(c);
	free(ci);
	return state;
}

START_TEST(sigkill_at_random_points)
{
	char *dir = prepare(), *ref, *got;
	const char *seed_env = getenv("PGPHASE_CRASH_SEED");
	unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)time(NULL);
	int kills = 0, runs = 0, status = -1;

	fprintf(stderr, "crash test seed: %u (PGPHASE_CRASH_SEED=%u replays it)\n", seed, seed);
	srand(seed);
	while (runs < 300) {
		pid_t pid = start_migrate(dir);
		int delay_ms = kills < 30 ? 5 + rand() % 120 : -1;
		int st;

		runs++;
		if (delay_ms >= 0) {
			usleep((useconds_t)delay_ms * 1000);
			if (waitpid(pid, &st, WNOHANG) == 0) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				kills++;
				continue;
			}
		} else {
			waitpid(pid, &st, 0);
		}
		status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (status == 0 && kills >= 30)
			break;
		ck_assert_msg(status == 0, "run %d (seed %u) exited %d", runs, seed, status);
	}
	ck_assert_msg(kills >= 30, "only %d kills landed (seed %u)", kills, seed);
	ck_assert_int_eq(status, 0);
	assert_complete_and_exactly_once(dir);
	got = end_state(th_dbname());
	ref = reference_state(dir);
	if (strcmp(got, ref) != 0) {
		FILE *f = fopen("/tmp/pgphase-crash-got.sql", "w");

		fputs(got, f);
		fclose(f);
		f = fopen("/tmp/pgphase-crash-ref.sql", "w");
		fputs(ref, f);
		fclose(f);
	}
	ck_assert_msg(strcmp(got, ref) == 0, "schema differs from an uninterrupted run (seed %u): "
		      "diff /tmp/pgphase-crash-ref.sql /tmp/pgphase-crash-got.sql", seed);
	free(got);
	free(ref);
	free(dir);
}
END_TEST

START_TEST(server_restart_mid_backfill)
{
	char *dir = prepare(), cmd[1024];
	const char *pgdir = getenv("PGPHASE_TEST_PGDIR");
	struct th_run r;
	pid_t pid;
	int st, waited = 0;

	ck_assert_ptr_nonnull(pgdir);
	pid = start_migrate(dir);
	/* wait until the big backfill is under way */
	while (th_long("SELECT count(*) FROM big WHERE new IS NOT NULL") == 0) {
		usleep(20000);
		ck_assert_msg((waited += 20) < 120000, "backfill never started");
	}
	snprintf(cmd, sizeof(cmd), "%s /usr/lib/postgresql/15/bin/pg_ctl -D '%s/data' -m fast -w restart -l '%s/server.log' >/dev/null 2>&1",
		 getuid() == 0 ? "runuser -u postgres --" : "", pgdir, pgdir);
	ck_assert_int_eq(system(cmd), 0);
	waitpid(pid, &st, 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 0, "pgphase did not notice the restart");
	/* state is consistent: the rerun finishes */
	th_pgphase(&r, dir, "migrate", "--lock-wait", "30", NULL);
	th_assert_exit(&r, 0);
	th_run_release(&r);
	assert_complete_and_exactly_once(dir);
	free(dir);
}
END_TEST

Suite *crash_suite(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = th_db_tcase("crash");

	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, sigkill_at_random_points);
	tcase_add_test(tc, server_restart_mid_backfill);
	suite_add_tcase(s, tc);
	return s;
}
