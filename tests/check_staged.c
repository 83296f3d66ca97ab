/*
 * Staged runs across migrations (issue 15, item 3): `expand` and `backfill` run several
 * migrations' early phases ahead, while each earlier migration's contract (and, under
 * expand, its backfill) waits.  A later migration whose steps depend on those waiting steps
 * (a name its DROP CONSTRAINT frees, a column its contract makes NOT NULL, rows its backfill
 * deduplicates) is where the staged run stops, before the first change of that migration:
 * the earlier ones run through the requested phase, the warning names both files and the
 * reason, exit 0.  The whole deploy sequence, run again until everything is complete, ends
 * in the schema psql -1 gives running the files in order (th_assert_same_schema).  Also:
 * independent migrations still expand ahead together, a migration expanded by an earlier
 * command counts, `plan` shows where a staged run stops, and `migrate` is not affected.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define RUN(r, dir, ...) th_pgphase((r), (dir), __VA_ARGS__, NULL)

/* Existing tables: a schema with a space, mixed-case names with spaces, rows. */
static const char *const SETUP =
	"CREATE SCHEMA \"Sales App\";\n"
	"CREATE TABLE \"Sales App\".\"Order Lines\" (id int PRIMARY KEY, sku text, \"Qty\" int,"
	"  \"Unit Price\" int, CONSTRAINT \"uq old\" UNIQUE (sku));\n"
	"INSERT INTO \"Sales App\".\"Order Lines\" SELECT g, 's' || g, g % 7, g * 10"
	"  FROM generate_series(1, 50) g;\n"
	"CREATE TABLE \"Sales App\".\"Customers\" (\"Id\" int, region text, \"Full Name\" text,"
	"  PRIMARY KEY (\"Id\", region));\n"
	"INSERT INTO \"Sales App\".\"Customers\" SELECT g, 'eu', 'n' || g"
	"  FROM generate_series(1, 30) g;\n";

#define OL "\"Sales App\".\"Order Lines\""
#define CU "\"Sales App\".\"Customers\""

static void exec_on(const char *dbname, const char *sql)
{
	char *ci = th_conninfo_for(dbname);
	PGconn *c = PQconnectdb(ci);
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect %s: %s", dbname, PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	free(ci);
}

static char *write_dir(const char *const *files)
{
	char *dir = th_tmpdir();

	for (size_t i = 0; files[i]; i += 2)
		th_write(dir, files[i], files[i + 1]);
	return dir;
}

/* The state of version v ("-" when it has no row). */
static char *state_of(int v)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT coalesce((SELECT state FROM pgphase.migrations"
				   " WHERE version = %d), '-')", v);
	return th_value(sql);
}

static void assert_state(int v, const char *want)
{
	char *got = state_of(v);

	ck_assert_msg(strcmp(got, want) == 0, "version %d: state %s, want %s", v, got, want);
	free(got);
}

/* Run cmd, expect exit 0, return stderr (malloc'd). */
static char *ok(const char *dir, const char *cmd)
{
	struct th_run r;
	char *err;

	RUN(&r, dir, cmd);
	ck_assert_msg(r.status == 0, "%s: exit %d\n%s", cmd, r.status, r.err);
	err = strdup(r.err);
	th_run_release(&r);
	return err;
}

/* psql -1 of every file in order on a second database, then compare with the test's. */
static void assert_like_psql(const char *dir, const char *const *files)
{
	char *psql_db = th_extra_db("psql");

	exec_on(psql_db, SETUP);
	for (size_t i = 0; files[i]; i += 2) {
		char *path, *out = NULL;

		ck_assert(asprintf(&path, "%s/%s", dir, files[i]) > 0);
		ck_assert_msg(th_psql_file(psql_db, path, &out) == 0, "psql -1 %s: %s", files[i], out);
		free(out);
		free(path);
	}
	th_assert_same_schema(psql_db, th_dbname());
	free(psql_db);
}

/* The rest of the deploy, twice over: everything ends complete. */
static void finish_deploy(const char *dir, int last)
{
	static const char *const seq[] = { "backfill", "contract", "expand", "backfill",
					   "contract" };

	for (size_t i = 0; i < sizeof(seq) / sizeof(*seq); i++)
		free(ok(dir, seq[i]));
	for (int v = 1; v <= last; v++)
		assert_state(v, "complete");
}

static const char *const UQ_FILES[] = {
	"001_note.sql", "ALTER TABLE " OL " ADD COLUMN note text;\n",
	"002_drop_uq.sql", "ALTER TABLE " OL " DROP CONSTRAINT \"uq old\";\n",
	"003_new_uq.sql", "ALTER TABLE " OL " ADD CONSTRAINT \"uq old\" UNIQUE (sku, \"Qty\");\n",
	NULL
};

/*
 * 002 drops a constraint (deferred to contract), 003 adds one of the same name.  Before:
 * expand refused at plan time (exit 2, the model did not free the index name) or, with 002
 * expanded by an earlier command, failed building 003's index (exit 1).
 */
START_TEST(name_freed_by_contract)
{
	char *dir, *err;

	th_exec(SETUP);
	dir = write_dir(UQ_FILES);
	err = ok(dir, "expand");
	th_assert_contains(err, "expand: stopping before ");
	th_assert_contains(err, "003_new_uq.sql: it needs ");
	th_assert_contains(err, "002_drop_uq.sql's contract first");
	th_assert_contains(err, "the name \"uq old\"");
	free(err);
	assert_state(1, "expanded");
	assert_state(2, "expanded");
	assert_state(3, "-");
	/* nothing of 003: the old constraint is still there, on sku alone */
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_constraint WHERE conname = 'uq old'"
				 " AND array_length(conkey, 1) = 1"), 1);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_class WHERE relname LIKE '%uq old%'"),
			 1);
	finish_deploy(dir, 3);
	assert_like_psql(dir, UQ_FILES);
	free(dir);
}
END_TEST

/* The same, with 002 expanded by an earlier command, before 003 was written. */
START_TEST(earlier_expanded_by_previous_command)
{
	char *dir, *err;

	th_exec(SETUP);
	dir = th_tmpdir();
	th_write(dir, UQ_FILES[0], UQ_FILES[1]);
	th_write(dir, UQ_FILES[2], UQ_FILES[3]);
	free(ok(dir, "expand"));
	assert_state(2, "expanded");
	th_write(dir, UQ_FILES[4], UQ_FILES[5]);
	err = ok(dir, "expand");
	th_assert_contains(err, "stopping before ");
	th_assert_contains(err, "003_new_uq.sql");
	th_assert_contains(err, "002_drop_uq.sql's contract first");
	free(err);
	assert_state(3, "-");
	err = ok(dir, "backfill");
	th_assert_contains(err, "backfill: stopping before ");
	free(err);
	assert_state(3, "-");
	finish_deploy(dir, 3);
	assert_like_psql(dir, UQ_FILES);
	free(dir);
}
END_TEST

static const char *const NN_FILES[] = {
	"001_nn.sql", "ALTER TABLE " OL " ALTER COLUMN \"Unit Price\" SET NOT NULL;\n",
	"002_rename.sql", "ALTER TABLE " OL " RENAME COLUMN \"Unit Price\" TO \"Price Cents\";\n",
	NULL
};

/*
 * 001 makes a column NOT NULL (check in expand, SET NOT NULL in contract), 002 renames it.
 * Before: expand and backfill ran both, and contract failed on 002 (exit 1, "constraint ...
 * does not exist") after 001's contract had dropped its helper check.
 */
START_TEST(not_null_then_rename)
{
	char *dir, *err;

	th_exec(SETUP);
	dir = write_dir(NN_FILES);
	err = ok(dir, "expand");
	th_assert_contains(err, "expand: stopping before ");
	th_assert_contains(err, "002_rename.sql: it needs ");
	th_assert_contains(err, "001_nn.sql's contract first");
	th_assert_contains(err, "column \"Unit Price\" of \"Order Lines\"");
	free(err);
	assert_state(1, "expanded");
	assert_state(2, "-");
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_attribute WHERE attrelid = '"
				 OL "'::regclass AND attname = 'Price Cents'"), 0);
	finish_deploy(dir, 2);
	assert_like_psql(dir, NN_FILES);
	ck_assert_int_eq(th_long("SELECT sum(\"Price Cents\") FROM " OL), 12750);
	free(dir);
}
END_TEST

/* Under expand an earlier migration's backfill waits too: rows it deduplicates before a
 * later unique index.  backfill then runs 001's backfill before 002's expand. */
START_TEST(needs_backfill_first)
{
	static const char *const files[] = {
		"001_dedup.sql", "DELETE FROM " OL " WHERE \"Qty\" = 3;\n",
		"002_unique.sql", "CREATE UNIQUE INDEX \"Lines By Qty\" ON " OL " (\"Qty\")"
				  " WHERE \"Qty\" = 3;\n",
		NULL
	};
	char *dir, *err;

	th_exec(SETUP);
	dir = write_dir(files);
	err = ok(dir, "expand");
	th_assert_contains(err, "stopping before ");
	th_assert_contains(err, "002_unique.sql");
	th_assert_contains(err, "001_dedup.sql's backfill first");
	free(err);
	assert_state(2, "-");
	err = ok(dir, "backfill");
	th_assert_not_contains(err, "stopping");
	free(err);
	assert_state(1, "backfilled");
	assert_state(2, "backfilled");
	free(ok(dir, "contract"));
	assert_state(2, "complete");
	assert_like_psql(dir, files);
	free(dir);
}
END_TEST

/* Independent migrations (other tables) still expand ahead together. */
START_TEST(independent_expand_together)
{
	static const char *const files[] = {
		"001_nn.sql", "ALTER TABLE " OL " ALTER COLUMN \"Unit Price\" SET NOT NULL;\n",
		"002_rename.sql", "ALTER TABLE " CU " RENAME COLUMN \"Full Name\" TO \"Name\";\n",
		"003_drop.sql", "ALTER TABLE " OL " DROP CONSTRAINT \"uq old\";\n",
		"004_idx.sql", "CREATE INDEX \"Customers By Region\" ON " CU " (region);\n",
		NULL
	};
	char *dir, *err;

	th_exec(SETUP);
	dir = write_dir(files);
	err = ok(dir, "expand");
	th_assert_not_contains(err, "stopping");
	free(err);
	for (int v = 1; v <= 4; v++)
		assert_state(v, "expanded");
	free(ok(dir, "backfill"));
	free(ok(dir, "contract"));
	for (int v = 1; v <= 4; v++)
		assert_state(v, "complete");
	assert_like_psql(dir, files);
	free(dir);
}
END_TEST

/* plan says where a staged run stops; it changes nothing. */
START_TEST(plan_shows_stop)
{
	char *dir;
	struct th_run r;

	th_exec(SETUP);
	dir = write_dir(NN_FILES);
	RUN(&r, dir, "plan");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "-- a staged run (expand) stops before this migration: it "
			   "needs ");
	th_assert_contains(r.out, "001_nn.sql's contract first");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	free(dir);
}
END_TEST

/* migrate completes each migration before the next: it never stops. */
START_TEST(migrate_unaffected)
{
	char *dir, *err;

	th_exec(SETUP);
	dir = write_dir(UQ_FILES);
	err = ok(dir, "migrate");
	th_assert_not_contains(err, "stopping");
	free(err);
	for (int v = 1; v <= 3; v++)
		assert_state(v, "complete");
	assert_like_psql(dir, UQ_FILES);
	free(dir);
}
END_TEST

Suite *staged_suite(void)
{
	Suite *s = suite_create("staged");
	TCase *tc = th_db_tcase("staged");

	tcase_add_test(tc, name_freed_by_contract);
	tcase_add_test(tc, earlier_expanded_by_previous_command);
	tcase_add_test(tc, not_null_then_rename);
	tcase_add_test(tc, needs_backfill_first);
	tcase_add_test(tc, independent_expand_together);
	tcase_add_test(tc, plan_shows_stop);
	tcase_add_test(tc, migrate_unaffected);
	suite_add_tcase(s, tc);
	return s;
}
