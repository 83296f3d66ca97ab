/*
 * Rollback from any point (issue 15, item 1): a table-driven matrix of every strategy the
 * planner emits at every state a migration can be left in (pending with a failed step,
 * expanded, mid-backfill, backfilled, complete).  Each case builds a "before" schema with
 * rows (quoted mixed-case names, a schema other than public, comments, grants, a view, RLS,
 * policies), snapshots it, moves the migration to the state, runs `pgphase rollback` and
 * asserts the snapshot and the data of the pre-existing columns are the ones before; then
 * `pgphase migrate` must complete (rollback leaves a clean re-apply).  A state where a data
 * change of rows that existed before already ran is refused (exit 2, nothing changed) and
 * the way out it names (finish the migration, roll back through DOWN) is followed.
 * Also: --dry-run prints the SQL and changes nothing (not even the state schema); a contract
 * phase that has begun is refused; an INVALID index left by a CREATE INDEX CONCURRENTLY
 * that failed is dropped.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pgphase/snapshot.h"

static const char BEFORE[] =
	"CREATE SCHEMA \"App\";"
	"CREATE TABLE \"App\".\"Teams\" (\"Id\" bigint PRIMARY KEY, \"Title\" text NOT NULL);"
	"CREATE TABLE \"App\".\"Users\" (\"Id\" bigint PRIMARY KEY,"
	"  \"Email\" text NOT NULL DEFAULT '', \"Full Name\" text, \"Code\" text,"
	"  \"Score\" int DEFAULT 0, \"TeamId\" bigint);"
	"CREATE TABLE \"App\".\"Tags\" (\"Name\" text, \"Weight\" int);"
	"CREATE TABLE \"App\".\"Legacy\" (\"Id\" int, \"Note\" text);"
	"CREATE TABLE \"App\".\"Codes\" (\"Id\" bigint PRIMARY KEY, \"Code\" text);"
	"CREATE INDEX \"Users_Email_idx\" ON \"App\".\"Users\" (\"Email\");"
	"COMMENT ON TABLE \"App\".\"Users\" IS 'people who sign in';"
	"COMMENT ON COLUMN \"App\".\"Users\".\"Full Name\" IS 'display name';"
	"GRANT SELECT ON \"App\".\"Users\" TO PUBLIC;"
	"GRANT UPDATE (\"Full Name\") ON \"App\".\"Users\" TO PUBLIC;"
	"CREATE VIEW \"App\".\"User Emails\" AS SELECT \"Id\", \"Email\" FROM \"App\".\"Users\";"
	"ALTER TABLE \"App\".\"Users\" ENABLE ROW LEVEL SECURITY;"
	"CREATE POLICY \"Users see all\" ON \"App\".\"Users\" USING (true);"
	"INSERT INTO \"App\".\"Teams\" SELECT g, 'team ' || g FROM generate_series(1, 3) g;"
	"INSERT INTO \"App\".\"Users\" SELECT g, 'U' || g || '@Example.com', 'Name ' || g,"
	"  'c' || g, g * 2, 1 + g % 3 FROM generate_series(1, 40) g;"
	"INSERT INTO \"App\".\"Tags\" SELECT 'tag ' || g, g FROM generate_series(1, 12) g;"
	"INSERT INTO \"App\".\"Codes\" SELECT g, 'code ' || g FROM generate_series(1, 5) g;";

/* The pre-existing columns' data, as one value. */
static const char DATA[] =
	"SELECT (SELECT md5(string_agg(concat_ws('|', \"Id\", \"Email\", \"Full Name\", \"Code\","
	"   \"Score\", \"TeamId\"), '/' ORDER BY \"Id\")) FROM \"App\".\"Users\")"
	" || (SELECT md5(string_agg(concat_ws('|', \"Id\", \"Title\"), '/' ORDER BY \"Id\"))"
	"     FROM \"App\".\"Teams\")"
	" || (SELECT md5(string_agg(concat_ws('|', \"Name\", \"Weight\"), '/' ORDER BY \"Name\"))"
	"     FROM \"App\".\"Tags\")"
	" || (SELECT md5(string_agg(concat_ws('|', \"Id\", \"Code\"), '/' ORDER BY \"Id\"))"
	"     FROM \"App\".\"Codes\")"
	" || (SELECT count(*) FROM \"App\".\"Legacy\")";

/* Every case's migration ends with these: a required column (contract), a data change of
 * that new column (backfill), and a unique index built CONCURRENTLY that a duplicate code
 * makes fail (the pending-with-a-failed-step state). */
static const char COMPANION_UP[] =
	"ALTER TABLE \"App\".\"Users\" ADD COLUMN \"Nick\" text NOT NULL;\n"
	"UPDATE \"App\".\"Users\" SET \"Nick\" = lower(\"Email\") WHERE \"Nick\" IS NULL;\n"
	"CREATE UNIQUE INDEX CONCURRENTLY \"Codes_Code_uniq\" ON \"App\".\"Codes\" (\"Code\");\n";
static const char COMPANION_DOWN[] =
	"DROP INDEX \"App\".\"Codes_Code_uniq\";\n"
	"ALTER TABLE \"App\".\"Users\" DROP COLUMN \"Nick\";\n";

enum rb_state { ST_FAILED, ST_EXPANDED, ST_MID_BACKFILL, ST_BACKFILLED, ST_COMPLETE, ST_N };
static const char *const state_names[ST_N] = { "pending-failed", "expanded", "mid-backfill",
					       "backfilled", "complete" };

struct rb_case {
	const char *name;     /* the strategy it exercises */
	const char *head;     /* first line(s) of the file (a directive), or NULL */
	const char *up;       /* the strategy's statements (the companion follows) */
	const char *down;     /* their inverse for the complete state (the companion's follows) */
	const char *refuse;   /* per state: 'r' where rollback must refuse (exit 2), else '.' */
};

static const struct rb_case cases[] = {
	{ "companion-only (add-required-column, data change of a new column, as-written CIC)",
	  NULL, "", "", "....." },
	{ "create-index-concurrently", NULL,
	  "CREATE INDEX \"Users_Full Name_idx\" ON \"App\".\"Users\" (\"Full Name\");\n",
	  "DROP INDEX \"App\".\"Users_Full Name_idx\";\n", "....." },
	{ "drop-index-concurrently", NULL, "DROP INDEX \"App\".\"Users_Email_idx\";\n",
	  "CREATE INDEX \"Users_Email_idx\" ON \"App\".\"Users\" (\"Email\");\n", "....." },
	{ "add-foreign-key-not-valid", NULL,
	  "ALTER TABLE \"App\".\"Users\" ADD CONSTRAINT \"Users_Team_fk\" FOREIGN KEY (\"TeamId\")"
	  " REFERENCES \"App\".\"Teams\" (\"Id\");\n",
	  "ALTER TABLE \"App\".\"Users\" DROP CONSTRAINT \"Users_Team_fk\";\n", "....." },
	{ "add-check-not-valid", NULL,
	  "ALTER TABLE \"App\".\"Users\" ADD CONSTRAINT \"Score not negative\""
	  " CHECK (\"Score\" >= 0);\n",
	  "ALTER TABLE \"App\".\"Users\" DROP CONSTRAINT \"Score not negative\";\n", "....." },
	{ "set-not-null-via-check", NULL,
	  "ALTER TABLE \"App\".\"Users\" ALTER COLUMN \"Code\" SET NOT NULL;\n",
	  "ALTER TABLE \"App\".\"Users\" ALTER COLUMN \"Code\" DROP NOT NULL;\n", "....." },
	{ "add-column-volatile-default", NULL,
	  "ALTER TABLE \"App\".\"Users\" ADD COLUMN \"Token\" uuid NOT NULL"
	  " DEFAULT gen_random_uuid();\n",
	  "ALTER TABLE \"App\".\"Users\" DROP COLUMN \"Token\";\n", "....." },
	{ "add-unique-using-index (unique)", NULL,
	  "ALTER TABLE \"App\".\"Users\" ADD CONSTRAINT \"Users_Email_key\" UNIQUE (\"Email\");\n",
	  "ALTER TABLE \"App\".\"Users\" DROP CONSTRAINT \"Users_Email_key\";\n", "....." },
	{ "add-unique-using-index (primary key)", NULL,
	  "ALTER TABLE \"App\".\"Tags\" ADD PRIMARY KEY (\"Name\");\n",
	  "ALTER TABLE \"App\".\"Tags\" DROP CONSTRAINT \"Tags_pkey\";\n"
	  "ALTER TABLE \"App\".\"Tags\" ALTER COLUMN \"Name\" DROP NOT NULL;\n", "....." },
	{ "defer-destructive-to-contract", NULL, "DROP TABLE \"App\".\"Legacy\";\n",
	  "CREATE TABLE \"App\".\"Legacy\" (\"Id\" int, \"Note\" text);\n", "....." },
	{ "rename-column-via-sync-trigger", NULL,
	  "ALTER TABLE \"App\".\"Users\" RENAME COLUMN \"Full Name\" TO \"Display Name\";\n",
	  "ALTER TABLE \"App\".\"Users\" RENAME COLUMN \"Display Name\" TO \"Full Name\";\n", "....." },
	{ "rename-table-via-view", NULL, "ALTER TABLE \"App\".\"Teams\" RENAME TO \"Squads\";\n",
	  "ALTER TABLE \"App\".\"Squads\" RENAME TO \"Teams\";\n", "....." },
	{ "change-column-type-via-shadow-column", NULL,
	  "ALTER TABLE \"App\".\"Users\" ALTER COLUMN \"Score\" TYPE bigint;\n",
	  "ALTER TABLE \"App\".\"Users\" ALTER COLUMN \"Score\" TYPE int;\n", "....." },
	{ "as-written (new table with index, comment, grant, rows; nullable column)", NULL,
	  "CREATE TABLE \"App\".\"Audit Log\" (\"Id\" bigserial PRIMARY KEY,"
	  " \"UserId\" bigint REFERENCES \"App\".\"Users\" (\"Id\"), \"At\" timestamptz NOT NULL"
	  " DEFAULT now());\n"
	  "CREATE INDEX \"Audit Log_At_idx\" ON \"App\".\"Audit Log\" (\"At\");\n"
	  "COMMENT ON TABLE \"App\".\"Audit Log\" IS 'who did what';\n"
	  "GRANT SELECT ON \"App\".\"Audit Log\" TO PUBLIC;\n"
	  "INSERT INTO \"App\".\"Audit Log\" (\"UserId\") SELECT \"Id\" FROM \"App\".\"Users\";\n"
	  "ALTER TABLE \"App\".\"Users\" ADD COLUMN \"Bio\" text;\n"
	  "COMMENT ON COLUMN \"App\".\"Users\".\"Bio\" IS 'about';\n",
	  "ALTER TABLE \"App\".\"Users\" DROP COLUMN \"Bio\";\nDROP TABLE \"App\".\"Audit Log\";\n",
	  "....." },
	{ "as-written, no-transaction file", "-- pgphase:no-transaction\n",
	  "CREATE TABLE \"App\".\"Notes\" (\"Id\" bigint PRIMARY KEY, \"Body\" text);\n"
	  "CREATE INDEX CONCURRENTLY \"Users_Score_idx\" ON \"App\".\"Users\" (\"Score\");\n",
	  "DROP INDEX \"App\".\"Users_Score_idx\";\nDROP TABLE \"App\".\"Notes\";\n", "....." },
	/* data changes of rows that existed before: no old values kept, so refused once run */
	{ "data-change-to-backfill (pre-existing column)", NULL,
	  "UPDATE \"App\".\"Users\" SET \"Score\" = \"Score\" + 1000 WHERE \"Score\" < 1000;\n",
	  "UPDATE \"App\".\"Users\" SET \"Score\" = \"Score\" - 1000 WHERE \"Score\" >= 1000;\n",
	  "....." },
	/* the report: a rename and an UPDATE of the new name (kept in step with the
	 * old one): the rename's own copy is undone, the user's UPDATE is refused */
	{ "rename-column-via-sync-trigger + UPDATE of the new name", NULL,
	  "ALTER TABLE \"App\".\"Users\" RENAME COLUMN \"Full Name\" TO \"Display Name\";\n"
	  "UPDATE \"App\".\"Users\" SET \"Display Name\" = upper(\"Display Name\")"
	  " WHERE \"Display Name\" <> upper(\"Display Name\");\n",
	  "UPDATE \"App\".\"Users\" SET \"Display Name\" = 'Name ' || \"Id\";\n"
	  "ALTER TABLE \"App\".\"Users\" RENAME COLUMN \"Display Name\" TO \"Full Name\";\n",
	  "....." },
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static char *write_case(const struct rb_case *c)
{
	char *dir = th_tmpdir(), *text;
	size_t len = strlen(c->up) + strlen(c->down) + sizeof(COMPANION_UP) + sizeof(COMPANION_DOWN) +
		     (c->head ? strlen(c->head) : 0) + 64;

	text = malloc(len);
	snprintf(text, len, "%s%s%s-- DOWN\n%s%s", c->head ? c->head : "", c->up, COMPANION_UP,
		 COMPANION_DOWN, c->down);
	th_write(dir, "001_change.sql", text);
	free(text);
	return dir;
}

static void assert_snapshot(const char *want, const char *what)
{
	char *now = th_snapshot(th_dbname());
	char *diff = pgphase_snapshot_diff(want, now);

	ck_assert_msg(diff == NULL, "%s: schema differs (- expected, + found):\n%s", what, diff);
	free(now);
}

static void run_ok(const char *dir, const char *what, const char *cmd, int code)
{
	struct th_run r;

	th_pgphase(&r, dir, cmd, NULL);
	ck_assert_msg(r.status == code, "%s: pgphase %s: expected exit %d, got %d\n%s%s", what, cmd,
		      code, r.status, r.out, r.err);
	th_run_release(&r);
}

/* Backfill in small, slow batches and stop it (SIGINT) once some rows are done. */
static void stop_backfill_part_way(const char *dir, const char *what)
{
	const char *bin = getenv("PGPHASE_BIN");
	int status;
	long waited = 0;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stdout);
		freopen("/dev/null", "w", stderr);
		execl(bin, bin, "-d", th_conninfo(), "-m", dir, "backfill", "--batch-size", "4",
		      "--sleep", "150ms", (char *)NULL);
		_exit(127);
	}
	while (th_long("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'pgphase'"
		       " AND tablename = 'backfill_progress'") == 0 ||
	       th_long("SELECT coalesce(sum(rows_done), 0) FROM pgphase.backfill_progress") == 0) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			ck_abort_msg("%s: the backfill ended (status %d) before any batch", what, status);
		usleep(10000);
		waited += 10;
		ck_assert_msg(waited < 30000, "%s: no batch committed in 30 s", what);
	}
	kill(pid, SIGINT);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1,
		      "%s: interrupted backfill: status %d", what, status);
	ck_assert_msg(th_long("SELECT count(*) FROM pgphase.migrations WHERE state <> 'backfilled'"
			      " AND current_phase = 'backfill'") == 1,
		      "%s: the backfill finished before the signal", what);
}

static void reach(const char *dir, enum rb_state st, const char *what)
{
	switch (st) {
	case ST_FAILED:
		run_ok(dir, what, "migrate", 1);
		break;
	case ST_EXPANDED:
		run_ok(dir, what, "expand", 0);
		break;
	case ST_MID_BACKFILL:
		run_ok(dir, what, "expand", 0);
		stop_backfill_part_way(dir, what);
		break;
	case ST_BACKFILLED:
		run_ok(dir, what, "backfill", 0);
		break;
	default:
		run_ok(dir, what, "migrate", 0);
		break;
	}
}

START_TEST(test_matrix)
{
	const char *only = getenv("RB_ONLY"); /* "3,17": run only these iterations */
	const struct rb_case *c = &cases[_i / ST_N];
	enum rb_state st = (enum rb_state)(_i % ST_N);
	bool refuse = c->refuse[st] == 'r';
	char what[256], *dir, *before, *data, *now, *at_state;
	struct th_run r;

	snprintf(what, sizeof(what), "%s at %s", c->name, state_names[st]);
	if (only) {
		char key[16], list[256];

		snprintf(list, sizeof(list), ",%s,", only);
		snprintf(key, sizeof(key), ",%d,", _i);
		if (!strstr(list, key))
			return;
	}
	th_exec(BEFORE);
	if (st == ST_FAILED) /* a duplicate code: the unique index build fails */
		th_exec("UPDATE \"App\".\"Codes\" SET \"Code\" = 'code 1' WHERE \"Id\" = 2");
	dir = write_case(c);
	before = th_snapshot(th_dbname());
	data = th_value(DATA);
	reach(dir, st, what);
	/* the fill of a new column keeps no old values */
	if (_i / ST_N == 0 && st == ST_BACKFILLED)
		ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.undo_rows"), 0);
	at_state = th_snapshot(th_dbname());
	th_pgphase(&r, dir, "rollback", NULL);
	if (refuse) {
		ck_assert_msg(r.status == 2, "%s: expected a refusal (exit 2), got %d\n%s", what,
			      r.status, r.err);
		th_assert_contains(r.err, "001_change.sql (");
		th_assert_contains(r.err, "cannot roll back");
		th_assert_contains(r.err, "pgphase migrate --to 001");
		th_run_release(&r);
		assert_snapshot(at_state, what); /* nothing changed */
		/* the way out: finish, then roll back through DOWN */
		run_ok(dir, what, "migrate", 0);
		th_pgphase(&r, dir, "rollback", NULL);
	}
	ck_assert_msg(r.status == 0, "%s: rollback: exit %d\n%s%s", what, r.status, r.out, r.err);
	th_run_release(&r);
	assert_snapshot(before, what);
	now = th_value(DATA);
	ck_assert_msg(strcmp(now, data) == 0, "%s: data of the pre-existing columns changed", what);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.backfill_progress"), 0);
	free(now);
	/* a clean re-apply */
	if (st == ST_FAILED)
		th_exec("UPDATE \"App\".\"Codes\" SET \"Code\" = 'code 2' WHERE \"Id\" = 2");
	run_ok(dir, what, "migrate", 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE state = 'complete'"),
			 1);
	free(at_state);
	free(before);
	free(data);
	free(dir);
}
END_TEST

/* --dry-run prints the undo statements (or DOWN's) and changes nothing, not even the state. */
START_TEST(test_dry_run)
{
	const struct rb_case *c = &cases[10]; /* rename column */
	char *dir, *before, *count_before, *count_after;
	struct th_run r;

	th_exec(BEFORE);
	dir = write_case(c);
	run_ok(dir, "dry run", "expand", 0);
	before = th_snapshot(th_dbname());
	count_before = th_value("SELECT (SELECT count(*) FROM pgphase.events) || '/' ||"
				" (SELECT string_agg(state || coalesce(current_phase, ''), ',')"
				"  FROM pgphase.migrations)");
	th_pgphase(&r, dir, "rollback", "--dry-run", NULL);
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "001_change.sql (undo of the");
	th_assert_contains(r.out, "DROP TRIGGER IF EXISTS");
	th_assert_contains(r.out, "DROP IF EXISTS \"Display Name\"");
	th_assert_contains(r.out, "DROP IF EXISTS \"Nick\"");
	th_run_release(&r);
	assert_snapshot(before, "dry run");
	count_after = th_value("SELECT (SELECT count(*) FROM pgphase.events) || '/' ||"
			       " (SELECT string_agg(state || coalesce(current_phase, ''), ',')"
			       "  FROM pgphase.migrations)");
	ck_assert_str_eq(count_after, count_before);
	free(count_after);
	/* complete: the DOWN statements */
	run_ok(dir, "dry run", "migrate", 0);
	th_pgphase(&r, dir, "rollback", "--dry-run", NULL);
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "001_change.sql (DOWN section)");
	th_assert_contains(r.out, "RENAME COLUMN \"Display Name\" TO \"Full Name\";");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"
				 " WHERE state = 'complete'"), 1);
	free(count_before);
	free(before);
	free(dir);
}
END_TEST

/* On a database pgphase never touched, a dry run creates no state schema. */
START_TEST(test_dry_run_creates_nothing)
{
	char *dir = write_case(&cases[0]);
	struct th_run r;

	th_exec(BEFORE);
	th_pgphase(&r, dir, "rollback", "--dry-run", NULL);
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	free(dir);
}
END_TEST

/* A contract that began (an index dropped CONCURRENTLY, then a unique key's build failed on
 * a duplicate): refused, nothing changed; finishing the contract and rolling back runs DOWN. */
START_TEST(test_contract_begun_refused)
{
	char *dir = th_tmpdir(), *before, *at_state;
	struct th_run r;

	th_exec(BEFORE);
	th_exec("UPDATE \"App\".\"Codes\" SET \"Code\" = 'code 1' WHERE \"Id\" = 2");
	th_write(dir, "001_change.sql",
		 "DROP INDEX \"App\".\"Users_Email_idx\";\n"
		 "-- CONTRACT\n"
		 "ALTER TABLE \"App\".\"Codes\" ADD CONSTRAINT \"Codes_Code_key\" UNIQUE (\"Code\");\n"
		 "-- DOWN\n"
		 "ALTER TABLE \"App\".\"Codes\" DROP CONSTRAINT \"Codes_Code_key\";\n"
		 "CREATE INDEX \"Users_Email_idx\" ON \"App\".\"Users\" (\"Email\");\n");
	before = th_snapshot(th_dbname());
	run_ok(dir, "contract begun", "backfill", 0);
	run_ok(dir, "contract begun", "contract", 1);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 'Users_Email_idx'"), 0);
	at_state = th_snapshot(th_dbname());
	th_pgphase(&r, dir, "rollback", NULL);
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "its contract phase has begun");
	th_run_release(&r);
	assert_snapshot(at_state, "contract begun");
	th_exec("UPDATE \"App\".\"Codes\" SET \"Code\" = 'code 2' WHERE \"Id\" = 2");
	run_ok(dir, "contract begun", "contract", 0);
	run_ok(dir, "contract begun", "rollback", 0);
	assert_snapshot(before, "contract begun");
	free(at_state);
	free(before);
	free(dir);
}
END_TEST

/* A contract whose first step failed inside its transaction left nothing: undone. */
START_TEST(test_contract_failed_in_txn_undone)
{
	char *dir = th_tmpdir(), *before;

	th_exec(BEFORE);
	th_write(dir, "001_change.sql",
		 "ALTER TABLE \"App\".\"Users\" ADD COLUMN \"Nick\" text NOT NULL;\n"
		 "CREATE INDEX \"Users_Code_idx\" ON \"App\".\"Users\" (\"Code\");\n");
	before = th_snapshot(th_dbname());
	run_ok(dir, "contract failed", "migrate", 1); /* "Nick" has NULLs: its count fails */
	run_ok(dir, "contract failed", "rollback", 0);
	assert_snapshot(before, "contract failed");
	free(before);
	free(dir);
}
END_TEST

/* A CREATE INDEX CONCURRENTLY run as written that failed leaves an INVALID index: dropped.
 */
START_TEST(test_invalid_index_left_by_failed_build)
{
	char *dir = th_tmpdir(), *before;

	th_exec(BEFORE);
	th_exec("UPDATE \"App\".\"Codes\" SET \"Code\" = 'code 1' WHERE \"Id\" = 2");
	th_write(dir, "001_change.sql",
		 "-- pgphase:no-transaction\n"
		 "CREATE TABLE \"App\".\"Notes\" (\"Id\" bigint PRIMARY KEY);\n"
		 "CREATE UNIQUE INDEX CONCURRENTLY \"Codes_Code_uniq\" ON \"App\".\"Codes\" (\"Code\");\n"
		 "ALTER TABLE \"App\".\"Users\" ADD COLUMN \"Nick\" text NOT NULL;\n");
	before = th_snapshot(th_dbname());
	run_ok(dir, "invalid index", "migrate", 1);
	/* whatever the executor left, make sure an INVALID leftover is there */
	th_exec("DROP INDEX IF EXISTS \"App\".\"Codes_Code_uniq\";"
		"CREATE UNIQUE INDEX \"Codes_Code_uniq\" ON \"App\".\"Codes\" (\"Code\")"
		" WHERE \"Id\" < 0;"
		"UPDATE pg_index SET indisvalid = false"
		" WHERE indexrelid = '\"App\".\"Codes_Code_uniq\"'::regclass");
	run_ok(dir, "invalid index", "rollback", 0);
	assert_snapshot(before, "invalid index");
	free(before);
	free(dir);
}
END_TEST

/* ---- old values of backfill data changes (UPDATE / DELETE run by the engine) ---------- */

static const char DATA_BEFORE[] =
	"CREATE SCHEMA \"Data Sch\";"
	"CREATE TYPE \"Data Sch\".\"Mood\" AS ENUM ('sad', 'ok', 'happy');"
	"CREATE TABLE \"Data Sch\".\"Order Lines\" (\"Order Id\" int, \"Line No\" int,"
	"  \"Doc\" jsonb, \"Tags\" text[], \"Mood\" \"Data Sch\".\"Mood\","
	"  \"Amount\" numeric(12,4),"
	"  \"At\" timestamptz, \"J\" json, \"F\" float8,"
	"  \"Total\" numeric GENERATED ALWAYS AS (\"Amount\" * 2) STORED,"
	"  PRIMARY KEY (\"Order Id\", \"Line No\"));"
	"INSERT INTO \"Data Sch\".\"Order Lines\" (\"Order Id\", \"Line No\", \"Doc\", \"Tags\","
	"  \"Mood\", \"Amount\", \"At\", \"J\", \"F\")"
	" SELECT g / 10, g % 10,"
	"  CASE g % 4 WHEN 0 THEN NULL WHEN 1 THEN 'null'"
	"    ELSE jsonb_build_object('g', g, 'q', 'it''s \"x\"') END,"
	"  CASE WHEN g % 5 = 0 THEN NULL ELSE ARRAY['a b', NULL, 'q\"' || g] END,"
	"  (ARRAY['sad', 'ok', 'happy', NULL])[1 + g % 4]::\"Data Sch\".\"Mood\","
	"  CASE WHEN g % 7 = 0 THEN NULL ELSE g * 1.0001 END,"
	"  '2020-01-01 00:00:00.123456+00'::timestamptz + g * interval '1 day 1.000001 s',"
	"  CASE WHEN g % 3 = 0 THEN NULL ELSE ('{ \"b\" : 1,  \"a\":[' || g || ']}')::json END,"
	"  CASE g % 6 WHEN 0 THEN 'NaN' WHEN 1 THEN '-Infinity' ELSE g / 3.0 END"
	" FROM generate_series(1, 80) g;"
	/* a batch fails once, on the 6th row the backfill changes: it is redone */
	"CREATE SEQUENCE \"Data Sch\".\"fail seq\";"
	"CREATE FUNCTION \"Data Sch\".\"fail once\"() RETURNS trigger LANGUAGE plpgsql AS"
	" $$BEGIN IF NEW.\"Amount\" = -1 AND nextval('\"Data Sch\".\"fail seq\"') = 6 THEN"
	"   RAISE EXCEPTION 'injected' USING ERRCODE = 'lock_not_available'; END IF;"
	"   RETURN NEW; END$$;"
	"CREATE TRIGGER \"fail once\" BEFORE UPDATE ON \"Data Sch\".\"Order Lines\""
	"  FOR EACH ROW EXECUTE FUNCTION \"Data Sch\".\"fail once\"();"
	"CREATE TABLE \"Data Sch\".\"Events\" (\"Kind\" text, \"Seq\" int, \"Body\" jsonb,"
	"  \"Len\" int GENERATED ALWAYS AS (length(\"Kind\")) STORED,"
	"  PRIMARY KEY (\"Kind\", \"Seq\")) PARTITION BY LIST (\"Kind\");"
	"CREATE TABLE \"Data Sch\".\"Events a\" PARTITION OF \"Data Sch\".\"Events\""
	"  FOR VALUES IN ('a');"
	"CREATE TABLE \"Data Sch\".\"Events b\" PARTITION OF \"Data Sch\".\"Events\""
	"  FOR VALUES IN ('b b');"
	"INSERT INTO \"Data Sch\".\"Events\" SELECT CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b b' END,"
	"  g, jsonb_build_array(g, 'x') FROM generate_series(1, 50) g;"
	"CREATE TABLE \"Data Sch\".\"Audit\" (\"Id\" int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
	"  \"What\" text, \"Arr\" int[][]);"
	"INSERT INTO \"Data Sch\".\"Audit\" (\"What\", \"Arr\")"
	"  SELECT 'w ' || g, ARRAY[[g, 2], [3, 4]]"
	"  FROM generate_series(1, 30) g;"
	/* what the rows must be after the rollback (the app's own change added by the test) */
	"CREATE TABLE \"Data Sch\".\"Expected\" AS SELECT * FROM \"Data Sch\".\"Order Lines\";";

/* Every row of the three tables, exactly (record text), as one value. */
static const char DATA_ROWS[] =
	"SELECT (SELECT md5(string_agg(t::text, '/' ORDER BY t::text))"
	"          FROM \"Data Sch\".\"Order Lines\" t)"
	" || (SELECT md5(string_agg(t::text, '/' ORDER BY t::text)) FROM \"Data Sch\".\"Events\" t)"
	" || (SELECT md5(string_agg(t::text, '/' ORDER BY t::text)) FROM \"Data Sch\".\"Audit\" t)";
static const char DATA_EXPECTED[] =
	"SELECT (SELECT md5(string_agg(t::text, '/' ORDER BY t::text))"
	"          FROM \"Data Sch\".\"Expected\" t)"
	" || (SELECT md5(string_agg(t::text, '/' ORDER BY t::text)) FROM \"Data Sch\".\"Events\" t)"
	" || (SELECT md5(string_agg(t::text, '/' ORDER BY t::text)) FROM \"Data Sch\".\"Audit\" t)";

static const char DATA_UP[] =
	"UPDATE \"Data Sch\".\"Order Lines\" SET \"Doc\" = '{\"x\": 1}', \"Tags\" = '{}',"
	" \"Mood\" = 'happy', \"Amount\" = -1, \"At\" = now(), \"J\" = '[]', \"F\" = 0"
	" WHERE \"Amount\" IS DISTINCT FROM -1 AND \"Line No\" <> 3;\n"
	"DELETE FROM \"Data Sch\".\"Events\" WHERE \"Seq\" % 2 = 0;\n"
	"DELETE FROM \"Data Sch\".\"Audit\" WHERE \"Id\" > 10;\n"
	"-- DOWN\n"
	"SELECT 1;\n";

/*
 * An UPDATE of pre-existing columns (a WHERE, quoted names, composite key, jsonb / json /
 * arrays / enum / numeric / timestamptz / NaN values, a generated column, a batch failing
 * once and redone) and two DELETEs (a partitioned table; an identity column) in backfill:
 * rollback puts every old value and row back exactly.  _i: 0 backfilled, 1 stopped part way
 * with the app changing rows meanwhile, 2 backfilled by 2 workers, 3 a newer migration adding
 * columns to both tables expanded before the backfill (both rolled back: its undo drops
 * columns the old rows were recorded with).  Then migrate re-applies.
 * Before undo_rows, each was refused (exit 2: "pgphase keeps no old values").
 */
START_TEST(test_restore_old_values)
{
	static const char *const names[] = { "backfilled", "mid-backfill, app writes",
					     "backfilled by 2 workers",
					     "backfilled, a newer migration expanded first" };
	const char *what = names[_i];
	char *dir = th_tmpdir(), *before, *data, *now;
	struct th_run r;

	th_exec(DATA_BEFORE);
	th_write(dir, "001_data.sql", DATA_UP);
	if (_i == 3) /* its undo drops columns the old rows were recorded with */
		th_write(dir, "002_more.sql",
			 "ALTER TABLE \"Data Sch\".\"Order Lines\" ADD COLUMN \"Extra\" text;\n"
			 "ALTER TABLE \"Data Sch\".\"Events\" ADD COLUMN \"More\" int;\n");
	before = th_snapshot(th_dbname());
	data = th_value(DATA_ROWS);
	run_ok(dir, what, "expand", 0);
	if (_i == 0 || _i == 3) {
		run_ok(dir, what, "backfill", 0);
		ck_assert_msg(th_long("SELECT last_value FROM \"Data Sch\".\"fail seq\"") > 6,
			      "%s: the injected failure did not happen", what);
	} else if (_i == 1) {
		stop_backfill_part_way(dir, what);
		/* the app: a row the backfill changed (rollback puts the old value back) and one
		   it did not reach (its value stays) */
		th_exec("UPDATE \"Data Sch\".\"Order Lines\" SET \"F\" = 42 WHERE (\"Order Id\","
			"  \"Line No\") = (SELECT \"Order Id\", \"Line No\""
			"  FROM \"Data Sch\".\"Order Lines\""
			"  WHERE \"Amount\" = -1 ORDER BY 1, 2 LIMIT 1)");
		th_exec("WITH b AS (SELECT \"Order Id\", \"Line No\""
			"  FROM \"Data Sch\".\"Order Lines\""
			"  WHERE \"Amount\" IS DISTINCT FROM -1 AND \"Line No\" <> 3"
			"  ORDER BY 1 DESC, 2 DESC"
			"  LIMIT 1),"
			" u AS (UPDATE \"Data Sch\".\"Order Lines\" t SET \"F\" = 43 FROM b"
			"  WHERE (t.\"Order Id\", t.\"Line No\") = (b.\"Order Id\", b.\"Line No\"))"
			" UPDATE \"Data Sch\".\"Expected\" t SET \"F\" = 43 FROM b"
			"  WHERE (t.\"Order Id\", t.\"Line No\")"
			"    = (b.\"Order Id\", b.\"Line No\")");
		free(data);
		data = th_value(DATA_EXPECTED);
	} else {
		th_pgphase(&r, dir, "backfill", "--workers", "2", "--batch-size", "7", NULL);
		ck_assert_msg(r.status == 0, "%s: backfill: exit %d\n%s", what, r.status, r.err);
		th_run_release(&r);
		/* a backfill an earlier pgphase ran kept no old values: refused, nothing changed */
		th_exec("CREATE TABLE \"Data Sch\".\"marker\" AS SELECT * FROM pgphase.undo_rows"
			" WHERE key = '[]' AND step = (SELECT max(step) FROM pgphase.undo_rows);"
			"DELETE FROM pgphase.undo_rows u USING \"Data Sch\".\"marker\" m"
			" WHERE u.step = m.step AND u.key = '[]'");
		th_pgphase(&r, dir, "rollback", NULL);
		ck_assert_msg(r.status == 2, "%s: expected a refusal, got %d\n%s", what, r.status,
			      r.err);
		th_assert_contains(r.err, "without recording the old values");
		th_run_release(&r);
		th_exec("INSERT INTO pgphase.undo_rows SELECT * FROM \"Data Sch\".\"marker\";"
			"DROP TABLE \"Data Sch\".\"marker\"");
	}
	ck_assert_msg(th_long("SELECT count(*) FROM pgphase.undo_rows WHERE key <> '[]'") > 0,
		      "%s: no old values recorded", what);
	if (_i == 0) {
		long undo = th_long("SELECT count(*) FROM pgphase.undo_rows");

		th_pgphase(&r, dir, "rollback", "--dry-run", NULL);
		th_assert_exit(&r, 0);
		th_assert_contains(r.out, "the old values its backfill recorded");
		th_assert_contains(r.out, "INSERT INTO \"Data Sch\".\"Audit\"");
		th_run_release(&r);
		ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.undo_rows"), undo);
	}
	if (_i == 3)
		th_pgphase(&r, dir, "rollback", "--to", "0", NULL);
	else
		th_pgphase(&r, dir, "rollback", NULL);
	ck_assert_msg(r.status == 0, "%s: rollback: exit %d\n%s%s", what, r.status, r.out, r.err);
	th_run_release(&r);
	assert_snapshot(before, what);
	now = th_value(DATA_ROWS);
	ck_assert_msg(strcmp(now, data) == 0, "%s: rows differ from the ones before", what);
	free(now);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.undo_rows"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 0);
	/* a clean re-apply, and completion forgets the old values */
	run_ok(dir, what, "migrate", 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM \"Data Sch\".\"Order Lines\""
				 " WHERE \"Amount\" IS DISTINCT FROM -1 AND \"Line No\" <> 3"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM \"Data Sch\".\"Events\""), 25);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.undo_rows"), 0);
	free(before);
	free(data);
	free(dir);
}
END_TEST

/* ---- creations run as written: undone by a DROP of what they made ---------------------- */

static const char CREATIONS_UP[] =
	"CREATE SCHEMA \"New Sch\";\n"
	"CREATE TYPE \"App\".\"Level\" AS ENUM ('lo', 'hi');\n"
	"CREATE TYPE \"App\".\"Pair\" AS (a int, \"b b\" text);\n"
	"CREATE TYPE \"App\".\"Span\" AS RANGE (subtype = int4);\n"
	"CREATE DOMAIN \"App\".\"Positive\" AS int CHECK (VALUE > 0);\n"
	"CREATE FUNCTION \"App\".\"Touch\"(a int, \"b b\" \"App\".\"Pair\","
	" VARIADIC rest int[] DEFAULT '{}', OUT r int) LANGUAGE sql AS $$ SELECT a $$;\n"
	"CREATE FUNCTION \"App\".\"trg fn\"() RETURNS trigger LANGUAGE plpgsql"
	" AS $$BEGIN RETURN NEW; END$$;\n"
	"CREATE PROCEDURE \"App\".\"Proc\"(x int, INOUT y text) LANGUAGE sql AS $$ SELECT 'a' $$;\n"
	"CREATE TRIGGER \"Users touch\" BEFORE UPDATE ON \"App\".\"Users\""
	" FOR EACH ROW EXECUTE FUNCTION \"App\".\"trg fn\"();\n"
	"CREATE POLICY \"Users own\" ON \"App\".\"Users\" FOR SELECT USING (\"Id\" > 0);\n"
	"CREATE VIEW \"New Sch\".\"Team Names\" AS SELECT \"Title\" FROM \"App\".\"Teams\";\n"
	"CREATE MATERIALIZED VIEW \"App\".\"Team Count\" AS SELECT count(*) AS n"
	" FROM \"App\".\"Teams\";\n"
	"CREATE TABLE \"New Sch\".\"Copy\" AS SELECT \"Id\" FROM \"App\".\"Teams\";\n"
	"CREATE SEQUENCE \"New Sch\".\"Seq\";\n"
	"CREATE EXTENSION \"citext\";\n"
	"-- DOWN\n"
	"SELECT 1;\n";

/*
 * Functions (a signature with a composite, VARIADIC and OUT arguments), a procedure, types
 * (enum, composite, range), a domain, a schema, a trigger, a policy, views, a materialized
 * view, CREATE TABLE AS, a sequence, an extension, run as written: expanded (0) or
 * backfilled (1), rollback drops them all; then migrate applies them again.  Before
 * plan_undo.c, refused ("pgphase has no inverse for it").
 */
START_TEST(test_undo_creations)
{
	const char *what = _i ? "creations, backfilled" : "creations, expanded";
	char *dir = th_tmpdir(), *before, *data, *now;
	struct th_run r;

	th_exec(BEFORE);
	th_write(dir, "001_create.sql", CREATIONS_UP);
	before = th_snapshot(th_dbname());
	data = th_value(DATA);
	run_ok(dir, what, _i ? "backfill" : "expand", 0);
	th_pgphase(&r, dir, "rollback", "--dry-run", NULL);
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "DROP FUNCTION IF EXISTS \"App\".\"Touch\"");
	th_run_release(&r);
	th_pgphase(&r, dir, "rollback", NULL);
	ck_assert_msg(r.status == 0, "%s: rollback: exit %d\n%s%s", what, r.status, r.out, r.err);
	th_run_release(&r);
	assert_snapshot(before, what);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'New Sch'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_extension WHERE extname = 'citext'"), 0);
	now = th_value(DATA);
	ck_assert_str_eq(now, data);
	free(now);
	run_ok(dir, what, "migrate", 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_proc WHERE proname = 'Touch'"), 1);
	free(before);
	free(data);
	free(dir);
}
END_TEST

Suite *rollback_suite(void)
{
	Suite *s = suite_create("rollback");
	TCase *tc = th_db_tcase("rollback");

	fprintf(stderr, "rollback matrix: %zu cases x %d states = %zu\n", N_CASES, (int)ST_N,
		N_CASES * ST_N);
	tcase_add_loop_test(tc, test_matrix, 0, (int)(N_CASES * ST_N));
	tcase_add_test(tc, test_dry_run);
	tcase_add_test(tc, test_dry_run_creates_nothing);
	tcase_add_test(tc, test_contract_begun_refused);
	tcase_add_test(tc, test_contract_failed_in_txn_undone);
	tcase_add_test(tc, test_invalid_index_left_by_failed_build);
	tcase_add_loop_test(tc, test_restore_old_values, 0, 4);
	tcase_add_loop_test(tc, test_undo_creations, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
