/*
 * migrate / status / rollback / history against the real server: exactly-once recording,
 * failures with file:line, non-transactional statements, checksums, --to, dry runs.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"

#define RUN(r, dir, ...) th_pgphase((r), (dir), __VA_ARGS__, NULL)

START_TEST(migrate_status_history)
{
	struct th_run r;
	char *dir = th_tmpdir();
	json_t *js, *m0;
	json_error_t jerr;

	th_write(dir, "001_users.sql",
		 "-- UP\nCREATE TABLE users (id bigint PRIMARY KEY, email text);\n"
		 "CREATE INDEX users_email ON users (email);\n-- DOWN\nDROP TABLE users;\n");
	th_write(dir, "002_orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY);\n");
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "applied 2 migrations");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname IN ('users','orders','users_email')"), 3);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE state = 'complete' "
				 "AND expand_finished_at IS NOT NULL AND contract_finished_at IS NOT NULL"), 2);

	RUN(&r, dir, "status", "--format", "json");
	th_assert_exit(&r, 0);
	js = json_loads(r.out, 0, &jerr);
	ck_assert_msg(js != NULL, "status json: %s\n%s", jerr.text, r.out);
	ck_assert_str_eq(json_string_value(json_object_get(js, "module")), "default");
	ck_assert_int_eq(json_integer_value(json_object_get(js, "applied_count")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(js, "pending_count")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(js, "in_progress_count")), 0);
	m0 = json_array_get(json_object_get(js, "migrations"), 0);
	ck_assert(json_is_integer(json_object_get(m0, "version")));
	ck_assert_int_eq(json_integer_value(json_object_get(m0, "version")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(m0, "name")), "users");
	ck_assert_str_eq(json_string_value(json_object_get(m0, "state")), "complete");
	ck_assert_int_eq((int)strlen(json_string_value(json_object_get(m0, "checksum"))), 64);
	ck_assert(json_is_string(json_object_get(m0, "applied_at")));
	ck_assert_str_eq(json_string_value(json_object_get(
		json_object_get(json_object_get(m0, "phases"), "expand"), "state")), "done");
	json_decref(js);
	th_run_release(&r);

	RUN(&r, dir, "history");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "migration.completed");
	th_assert_contains(r.out, " ms ");
	th_run_release(&r);
	RUN(&r, dir, "history", "--limit", "1", "--format", "json");
	js = json_loads(r.out, 0, &jerr);
	ck_assert_int_eq(json_array_size(js), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(js, 0), "type")),
			 "migration.completed");
	json_decref(js);
	th_run_release(&r);

	/* nothing left: second run is a no-op */
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "nothing to do");
	th_run_release(&r);
	free(dir);
}
END_TEST

START_TEST(failure_leaves_nothing_and_stops)
{
	struct th_run r;
	char *dir = th_tmpdir();

	th_write(dir, "001_ok.sql", "CREATE TABLE ok (a int);\n");
	th_write(dir, "002_bad.sql", "CREATE TABLE half (a int);\n\nINSERT INTO half\n  VALUES ('x');\n");
	th_write(dir, "003_later.sql", "CREATE TABLE later (a int);\n");
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 1);
	th_assert_contains(r.err, "002_bad.sql:4:11: invalid input syntax for type integer");
	th_run_release(&r);
	/* exactly once: 001 applied and recorded; 002 neither; 003 never ran */
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 'ok'"), 1);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname IN ('half','later')"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 1);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.events WHERE type = 'phase.failed' AND version = 2"), 1);
	/* fix the file; the rerun applies 002 and 003 */
	th_write(dir, "002_bad.sql", "CREATE TABLE half (a int);\nINSERT INTO half VALUES (1);\n");
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE state = 'complete'"), 3);
	free(dir);
}
END_TEST

START_TEST(non_transactional_statements_run_outside)
{
	struct th_run r;
	char *dir = th_tmpdir();

	th_write(dir, "001_t.sql", "CREATE TABLE t (a int, b int);\n");
	th_write(dir, "002_idx.sql",
		 "CREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE TABLE u (a int);\n"
		 "-- DOWN\nDROP INDEX CONCURRENTLY t_a;\nDROP TABLE u;\n");
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
				 "WHERE c.relname = 't_a' AND i.indisvalid"), 1);
	RUN(&r, dir, "rollback");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname IN ('t_a','u')"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 1);
	free(dir);
}
END_TEST

START_TEST(no_transaction_file_resumes_after_failure)
{
	struct th_run r;
	char *dir = th_tmpdir();

	th_write(dir, "001_nt.sql",
		 "-- pgphase:no-transaction\nCREATE TABLE a (x int);\nCREATE TABLE b (x int);\n"
		 "INSERT INTO b VALUES ('oops');\nCREATE TABLE c (x int);\n");
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 1);
	th_assert_contains(r.err, "001_nt.sql:4:");
	th_run_release(&r);
	/* steps 1-2 committed and recorded as progress, not as applied */
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname IN ('a','b')"), 2);
	ck_assert_int_eq(th_long("SELECT next_step FROM pgphase.migrations WHERE version = 1 AND state = 'pending'"), 2);
	RUN(&r, dir, "status");
	th_assert_contains(r.out, "resumes at step 3");
	th_assert_contains(r.out, "last error");
	th_run_release(&r);
	/* fixing the failed step of an unfinished migration is allowed: the rerun resumes at
	 * step 3 and does not run steps 1-2 again (they would fail: tables exist) */
	th_write(dir, "001_nt.sql",
		 "-- pgphase:no-transaction\nCREATE TABLE a (x int);\nCREATE TABLE b (x int);\n"
		 "INSERT INTO b VALUES (1);\nCREATE TABLE c (x int);\n");
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "resuming at step 3");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM b"), 1);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE state = 'complete' "
				 "AND last_error IS NULL"), 1);
	/* once complete, edits are refused */
	th_write(dir, "001_nt.sql", "-- pgphase:no-transaction\nCREATE TABLE a (x int);\n");
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "001_nt.sql:1: migration changed after it was applied");
	th_run_release(&r);
	free(dir);
}
END_TEST

/*
 * The file's own BEGIN ... COMMIT (src/sql/txn_blocks.c): a wrapper is pgphase's own
 * transaction; an inner block (Prisma's enum change) runs as written, together, in place;
 * ROLLBACK/SAVEPOINT are refused before anything changes.  psql -1 is the oracle.
 */
START_TEST(transaction_control_blocks)
{
	struct th_run r;
	char *dir = th_tmpdir(), *bad = th_tmpdir(), *v;
	const char *setup = "CREATE TYPE \"Kind\" AS ENUM ('A', 'B', 'C');\n"
			    "CREATE TABLE obs (id int PRIMARY KEY, k \"Kind\" NOT NULL);\n"
			    "INSERT INTO obs VALUES (1, 'A'), (2, 'B');\n";
	const char *enum_change =
		"BEGIN;\n"
		"CREATE TYPE \"Kind_new\" AS ENUM ('A', 'B');\n"
		"ALTER TABLE obs ALTER COLUMN k TYPE \"Kind_new\" USING (k::text::\"Kind_new\");\n"
		"ALTER TYPE \"Kind\" RENAME TO \"Kind_old\";\n"
		"ALTER TYPE \"Kind_new\" RENAME TO \"Kind\";\n"
		"DROP TYPE \"Kind_old\";\n"
		"COMMIT;\n"
		"ALTER TABLE obs ADD COLUMN note text;\n"
		"DROP INDEX IF EXISTS nothing_here;\n";
	char *psql_db = th_extra_db("txn"), *path;

	th_exec(setup);
	th_write(dir, "001_wrap.sql", "BEGIN;\nCREATE TABLE t (a int);\nCOMMIT;\n");
	th_write(dir, "002_enum.sql", enum_change);
	RUN(&r, dir, "plan");
	th_assert_exit(&r, 0);
	/* no step runs the file's BEGIN or COMMIT (a step's SQL is indented by six) */
	th_assert_not_contains(r.out, "\n      BEGIN");
	th_assert_not_contains(r.out, "\n      COMMIT");
	th_assert_contains(r.out, "inside the file's BEGIN ... COMMIT block (line 1)");
	th_run_release(&r);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE state = 'complete'"), 2);
	v = th_value("SELECT format_type(atttypid, NULL) FROM pg_attribute "
		     "WHERE attrelid = 'obs'::regclass AND attname = 'k'");
	ck_assert_str_eq(v, "\"Kind\"");
	free(v);
	/* the same files through psql -1 end in the same schema */
	{
		char *ci = th_conninfo_for(psql_db);
		PGconn *c = PQconnectdb(ci);
		PGresult *res = PQexec(c, setup);

		ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		PQfinish(c);
		free(ci);
	}
	if (asprintf(&path, "%s/001_wrap.sql", dir) < 0)
		abort();
	ck_assert_int_eq(th_psql_file(psql_db, path, NULL), 0);
	free(path);
	if (asprintf(&path, "%s/002_enum.sql", dir) < 0)
		abort();
	ck_assert_int_eq(th_psql_file(psql_db, path, NULL), 0);
	free(path);
	th_assert_same_schema(psql_db, th_dbname());
	/* strict refuses the block's statements: they cannot be made safer */
	th_write(bad, "001_enum.sql", enum_change);
	RUN(&r, bad, "--module", "bad", "plan", "--strict");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "001_enum.sql:2:1: strict");
	th_run_release(&r);
	/* ROLLBACK and SAVEPOINT keep their meaning only in a transaction of their own */
	th_write(bad, "001_enum.sql", "CREATE TABLE u (a int);\nSAVEPOINT s;\nCREATE TABLE w (a int);\n");
	RUN(&r, bad, "--module", "bad", "migrate");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "001_enum.sql:2:1: SAVEPOINT in a migration");
	th_assert_contains(r.err, "hint:");
	th_run_release(&r);
	th_write(bad, "001_enum.sql", "BEGIN;\nCREATE TABLE u (a int);\nROLLBACK;\n");
	RUN(&r, bad, "--module", "bad", "migrate");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "001_enum.sql:3:1: ROLLBACK in a migration");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 'u'"), 0);
	free(psql_db);
	free(bad);
	free(dir);
}
END_TEST

START_TEST(rollback_steps_to_and_missing_down)
{
	struct th_run r;
	char *dir = th_tmpdir();

	th_write(dir, "001_a.sql", "CREATE TABLE a (x int);\n-- DOWN\nDROP TABLE a;\n");
	th_write(dir, "002_b.sql", "CREATE TABLE b (x int);\n");
	th_write(dir, "003_c.sql", "CREATE TABLE c (x int);\n-- DOWN\nDROP TABLE c;\n");
	th_write(dir, "004_d.sql", "CREATE TABLE d (x int);\n-- DOWN\nDROP TABLE d;\n");
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	RUN(&r, dir, "rollback");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 'd'"), 0);
	/* 002 has no DOWN: rolling back to 1 stops before anything changes (003 stays) */
	RUN(&r, dir, "rollback", "--to", "1");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "002_b.sql:1: cannot roll back: migration has no DOWN section");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 'c'"), 1);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 3);
	RUN(&r, dir, "rollback", "--to", "2");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT max(version) FROM pgphase.migrations"), 2);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.events WHERE type = 'rollback.completed'"), 2);
	/* --to an unknown version, and --steps with --to */
	RUN(&r, dir, "rollback", "--to", "77");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "--to 77: no migration has this version");
	th_run_release(&r);
	RUN(&r, dir, "rollback", "--to", "1", "--steps", "2");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "cannot be used together");
	th_run_release(&r);
	free(dir);
}
END_TEST

START_TEST(migrate_to_and_dry_run)
{
	struct th_run r;
	char *dir = th_tmpdir();

	th_write(dir, "001_a.sql", "CREATE TABLE a (x int);\n");
	th_write(dir, "002_b.sql", "CREATE INDEX CONCURRENTLY a_x ON a (x);\n");
	th_write(dir, "003_c.sql", "CREATE TABLE c (x int);\n");
	RUN(&r, dir, "migrate", "--dry-run");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "expand   none");
	th_assert_contains(r.out, "CREATE INDEX CONCURRENTLY a_x ON a (x)");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	RUN(&r, dir, "migrate", "--to", "2");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 2);
	RUN(&r, dir, "migrate", "--to", "9");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "--to 9: no migration has this version");
	th_run_release(&r);
	free(dir);
}
END_TEST

START_TEST(checksum_change_refused)
{
	struct th_run r;
	char *dir = th_tmpdir();

	th_write(dir, "001_a.sql", "CREATE TABLE a (x int);\n-- DOWN\nDROP TABLE a;\n");
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	th_write(dir, "001_a.sql", "CREATE TABLE a (x bigint);\n-- DOWN\nDROP TABLE a;\n");
	th_write(dir, "002_b.sql", "CREATE TABLE b (x int);\n");
	RUN(&r, dir, "status");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "MODIFIED");
	th_run_release(&r);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "001_a.sql:1: migration changed after it was applied");
	th_run_release(&r);
	RUN(&r, dir, "rollback");
	th_assert_exit(&r, 2);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 'b'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname = 'a'"), 1);
	free(dir);
}
END_TEST

START_TEST(modules_side_by_side)
{
	struct th_run r;
	char *d1 = th_tmpdir(), *d2 = th_tmpdir();

	th_write(d1, "001_a.sql", "CREATE TABLE a (x int);\n");
	th_write(d2, "001_b.sql", "CREATE TABLE b (x int);\n");
	RUN(&r, d1, "--module", "billing", "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	RUN(&r, d2, "migrate", "--module", "auth");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE version = 1"), 2);
	RUN(&r, d2, "status", "--module", "auth", "--format", "json");
	th_assert_contains(r.out, "\"module\": \"auth\"");
	th_assert_contains(r.out, "001_b.sql");
	th_assert_not_contains(r.out, "001_a.sql");
	th_run_release(&r);
	/* a separate state schema works too */
	RUN(&r, d1, "--state-schema", "ops_state", "migrate");
	th_assert_exit(&r, 1); /* table a exists already: the statement fails, nothing recorded */
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM ops_state.migrations"), 0);
	free(d1);
	free(d2);
}
END_TEST

START_TEST(empty_directory_nothing_to_do)
{
	struct th_run r;
	char *dir = th_tmpdir();

	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_assert_contains(r.err, "nothing to do");
	th_run_release(&r);
	RUN(&r, "/nonexistent/dir", "migrate");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, "cannot open migrations directory \"/nonexistent/dir\"");
	th_run_release(&r);
	free(dir);
}
END_TEST

Suite *migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = th_db_tcase("migrate");

	tcase_add_test(tc, migrate_status_history);
	tcase_add_test(tc, failure_leaves_nothing_and_stops);
	tcase_add_test(tc, non_transactional_statements_run_outside);
	tcase_add_test(tc, no_transaction_file_resumes_after_failure);
	tcase_add_test(tc, transaction_control_blocks);
	tcase_add_test(tc, rollback_steps_to_and_missing_down);
	tcase_add_test(tc, migrate_to_and_dry_run);
	tcase_add_test(tc, checksum_change_refused);
	tcase_add_test(tc, modules_side_by_side);
	tcase_add_test(tc, empty_directory_nothing_to_do);
	suite_add_tcase(s, tc);
	return s;
}
