/*
 * The planner's schema model (src/plan/plan_state.c) against the real server: every
 * statement's effect is visible to the statements after it, in the same migration and in
 * later pending ones.  Each case runs `pgphase plan` (and `plan --offline` where the model
 * alone must answer), then `pgphase migrate`, and compares the end schema with what
 * `psql -1` gives on the same files in a second database (th_assert_same_schema: the schema
 * snapshot, the state schema left out), plus the data of the pre-existing columns where
 * the case changes data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pgphase/plan.h"
#include "plan/plan_int.h"

#define RUN(r, dir, ...) th_pgphase((r), (dir), __VA_ARGS__, NULL)

/* The existing table most cases change: a key, rows, and a column left for backfills. */
static const char *const SETUP_T =
	"CREATE TABLE t (id int PRIMARY KEY, a int NOT NULL, b int);\n"
	"INSERT INTO t (id, a) SELECT g, g * 10 FROM generate_series(1, 50) g;\n";

/* Run SQL on another database of the test server. */
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

/*
 * The oracle: a second database with the same setup, each file of files (NULL-terminated,
 * in order) run by psql -1; its schema must equal the test database's after pgphase, and so
 * must the rows of data_sql when given.
 */
static void assert_same_as_psql(const char *setup, const char *dir, const char *const *files,
				const char *data_sql)
{
	char *psql_db = th_extra_db("psql");

	exec_on(psql_db, setup);
	for (size_t i = 0; files[i]; i++) {
		char *path, *out = NULL;
		int st;

		ck_assert(asprintf(&path, "%s/%s", dir, files[i]) > 0);
		st = th_psql_file(psql_db, path, &out);
		ck_assert_msg(st == 0, "psql -1 %s: %s", files[i], out);
		free(out);
		free(path);
	}
	th_assert_same_schema(psql_db, th_dbname());
	if (data_sql) {
		char *ci = th_conninfo_for(psql_db);
		PGconn *c = PQconnectdb(ci);
		PGresult *r = PQexec(c, data_sql);
		char *mine = th_value(data_sql);

		ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", data_sql,
			      PQerrorMessage(c));
		ck_assert_msg(PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), mine) == 0,
			      "data %s: psql %s, pgphase %s", data_sql,
			      PQntuples(r) ? PQgetvalue(r, 0, 0) : "(none)", mine);
		free(mine);
		PQclear(r);
		PQfinish(c);
		free(ci);
	}
	free(psql_db);
}

/* `pgphase plan` (online, or offline), which must succeed; its output (malloc'd). */
static char *plan_ok(const char *dir, bool offline)
{
	struct th_run r;
	char *out;

	if (offline)
		RUN(&r, dir, "plan", "--offline");
	else
		RUN(&r, dir, "plan");
	th_assert_exit(&r, 0);
	out = strdup(r.out);
	th_run_release(&r);
	return out;
}

static void migrate_ok(const char *dir)
{
	struct th_run r;

	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
}

/* A checksum of the rows of the pre-existing columns, to compare pgphase and psql. */
static const char *const DATA_T = "SELECT md5(string_agg(id || ':' || a || ':' || "
				  "coalesce(b::text, '-'), ',' ORDER BY id)) FROM t";
/* The same once the table is renamed to u. */
static const char *const DATA_U = "SELECT md5(string_agg(id || ':' || a || ':' || "
				  "coalesce(b::text, '-'), ',' ORDER BY id)) FROM u";

START_TEST(add_then_rename_column)
{
	char *dir = th_tmpdir(), *plan;
	const char *files[] = { "001_c.sql", NULL };

	th_exec(SETUP_T);
	th_write(dir, "001_c.sql", "ALTER TABLE t ADD COLUMN c varchar;\n"
				   "ALTER TABLE t RENAME COLUMN c TO d;\n"
				   "ALTER TABLE t ALTER COLUMN d TYPE varchar(20);\n"
				   "ALTER TABLE t ALTER COLUMN d SET DEFAULT 'x';\n");
	plan = plan_ok(dir, false);
	/* the column is new: nobody uses it, so nothing needs a sync trigger or shadow column */
	th_assert_not_contains(plan, "rename-column-via-sync-trigger");
	th_assert_not_contains(plan, "change-column-type-via-shadow-column");
	free(plan);
	plan = plan_ok(dir, true);
	th_assert_not_contains(plan, "rename-column-via-sync-trigger");
	free(plan);
	migrate_ok(dir);
	assert_same_as_psql(SETUP_T, dir, files, DATA_T);
	free(dir);
}
END_TEST

START_TEST(add_column_then_not_null_and_index)
{
	char *dir = th_tmpdir(), *plan;
	const char *files[] = { "001_c.sql", NULL };

	th_exec(SETUP_T);
	th_write(dir, "001_c.sql", "ALTER TABLE t ADD COLUMN c int DEFAULT 0;\n"
				   "ALTER TABLE t ALTER COLUMN c SET NOT NULL;\n"
				   "CREATE INDEX t_c ON t (c);\n");
	plan = plan_ok(dir, false);
	/* the new column is found (its type and default), and it is on an existing table: its
	   rows are there, so SET NOT NULL keeps the check dance (no scan under ACCESS EXCLUSIVE)
	   and the index is built concurrently */
	th_assert_contains(plan, "set-not-null-via-check");
	th_assert_contains(plan, "create-index-concurrently");
	free(plan);
	migrate_ok(dir);
	assert_same_as_psql(SETUP_T, dir, files, DATA_T);
	free(dir);
}
END_TEST

START_TEST(rename_table_then_use_new_name)
{
	char *dir = th_tmpdir(), *plan;
	const char *files[] = { "001_u.sql", NULL };

	th_exec(SETUP_T);
	th_write(dir, "001_u.sql", "ALTER TABLE t RENAME TO u;\n"
				   "ALTER TABLE u ADD COLUMN c int;\n"
				   "CREATE INDEX u_a ON u (a);\n"
				   "UPDATE u SET b = a + 1 WHERE b IS NULL;\n");
	/* plan time: u is not in the catalog yet, its key is t's */
	plan = plan_ok(dir, false);
	th_assert_contains(plan, "key (id int)");
	free(plan);
	migrate_ok(dir); /* run time: the engine finds u on the database */
	ck_assert_int_eq(th_long("SELECT count(*) FROM u WHERE b = a + 1"), 50);
	assert_same_as_psql(SETUP_T, dir, files, DATA_U);
	free(dir);
}
END_TEST

/* Each phase its own command: every plan after the first sees expand already applied. */
START_TEST(rename_table_phase_by_phase)
{
	char *dir = th_tmpdir();
	const char *files[] = { "001_u.sql", NULL };
	const char *const cmds[] = { "expand", "plan", "backfill", "plan", "contract" };
	struct th_run r;

	th_exec(SETUP_T);
	th_write(dir, "001_u.sql", "ALTER TABLE t RENAME TO u;\n"
				   "ALTER TABLE u ADD COLUMN c int;\n"
				   "ALTER TABLE u RENAME COLUMN c TO d;\n"
				   "UPDATE u SET b = a + 1 WHERE b IS NULL;\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++) {
		RUN(&r, dir, cmds[i]);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations WHERE state = 'complete'"), 1);
	assert_same_as_psql(SETUP_T, dir, files, DATA_U);
	free(dir);
}
END_TEST

/* Offline, the model alone answers what the online plan asked the catalog: same plan. */
START_TEST(offline_plan_same_answers)
{
	char *dir = th_tmpdir(), *on, *off;

	th_write(dir, "001_a.sql", "CREATE TABLE n (\"Id\" bigint PRIMARY KEY, v varchar(10));\n");
	th_write(dir, "002_b.sql", "ALTER TABLE n RENAME TO \"N 2\";\n"
				   "ALTER TABLE \"N 2\" ADD COLUMN w text NOT NULL DEFAULT 'x';\n"
				   "ALTER TABLE \"N 2\" RENAME COLUMN w TO \"W\";\n");
	/* (a rename or type change of 001's columns would differ: online, the carry-over sees
	   the table is not on the database yet and runs it as written; offline nothing says so) */
	th_write(dir, "003_c.sql", "UPDATE \"N 2\" SET v = 'y' WHERE v IS NULL;\n"
				   "ALTER TABLE \"N 2\" ALTER COLUMN v SET DEFAULT 'z';\n");
	on = plan_ok(dir, false);
	off = plan_ok(dir, true);
	th_assert_contains(on, "key (Id bigint)");
	{
		/* the online plan names each migration's state: the rest is byte for byte */
		char *p;

		while ((p = strstr(on, ", pending)")))
			memmove(p, p + strlen(", pending"), strlen(p + strlen(", pending")) + 1);
	}
	ck_assert_str_eq(on, off);
	free(on);
	free(off);
	free(dir);
}
END_TEST

START_TEST(rename_table_then_recreate)
{
	char *dir = th_tmpdir(), *plan;
	const char *files[] = { "001_bkp.sql", "002_new.sql", NULL };

	th_exec(SETUP_T);
	th_write(dir, "001_bkp.sql", "ALTER TABLE t RENAME TO t_bkp;\n");
	th_write(dir, "002_new.sql", "CREATE TABLE t (id int PRIMARY KEY, x int);\n"
				     "ALTER TABLE t ADD COLUMN y int;\n"
				     "ALTER TABLE t RENAME COLUMN y TO z;\n"
				     "CREATE INDEX t_x ON t (x);\n"
				     "UPDATE t_bkp SET b = a WHERE b IS NULL;\n");
	plan = plan_ok(dir, false);
	/* the new t is new: its index is built as written; t_bkp is the old table, batched
	   with the catalog's key of t */
	th_assert_not_contains(plan, "create-index-concurrently");
	th_assert_not_contains(plan, "rename-column-via-sync-trigger");
	th_assert_contains(plan, "data-change-to-backfill");
	th_assert_contains(plan, "key (id int)");
	free(plan);
	migrate_ok(dir);
	ck_assert_int_eq(th_long("SELECT count(*) FROM t_bkp WHERE b = a"), 50);
	assert_same_as_psql(SETUP_T, dir, files, NULL);
	free(dir);
}
END_TEST

/* The same within one migration, asked of the planner's model directly (offline). */
START_TEST(rename_then_recreate_model)
{
	char *dir = th_tmpdir();
	struct pgphase_template_vars vars = { "public" };
	struct pgphase_migration_set set;
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_plan scratch;
	struct plan_ctx ctx;
	const struct pgphase_migration *m;
	PgQuery__RangeVar t = PG_QUERY__RANGE_VAR__INIT, bkp = PG_QUERY__RANGE_VAR__INIT;
	const PgQuery__RangeVar *cat;

	t.relname = "t";
	bkp.relname = "t_bkp";
	th_write(dir, "001_other.sql", "CREATE TABLE other (id int PRIMARY KEY, a int);\n");
	th_write(dir, "002_swap.sql", "ALTER TABLE t RENAME TO t_bkp;\n"           /* 0 */
				      "CREATE TABLE t (k int PRIMARY KEY, x int);\n" /* 1 */
				      "ALTER TABLE t_bkp RENAME COLUMN a TO b;\n"    /* 2 */
				      "DROP TABLE t;\n");                             /* 3 */
	ck_assert(pgphase_migration_set_load(&set, dir, &vars, &err) == 0);
	ck_assert(pgphase_migration_set_parse(&set, &err) == 0);
	m = pgphase_migration_find(&set, 2);
	memset(&ctx, 0, sizeof(ctx));
	memset(&scratch, 0, sizeof(scratch));
	scratch.migration = m;
	scratch.arena = pgphase_arena_new();
	ctx.plan = &scratch;
	ctx.arena = scratch.arena;
	ctx.m = m;
	ctx.opts.pg_version = 15;
	ctx.opts.set = &set;
	ck_assert(!plan_is_new_table(&ctx, &t, 0));
	ck_assert(!plan_is_new_table(&ctx, &bkp, 1));
	ck_assert(plan_is_new_table(&ctx, &t, 2));
	ck_assert(!plan_is_new_table(&ctx, &bkp, 2));
	cat = plan_catalog_name(&ctx, &bkp);
	ck_assert(cat && strcmp(cat->relname, "t") == 0);
	ck_assert(plan_catalog_name(&ctx, &t) == NULL);
	{
		/* the new t: key and columns from its CREATE TABLE; t_bkp: the catalog's (offline:
		   unknown) */
		char **k = plan_table_key(&ctx, &t);
		struct plan_column c;

		ck_assert(k && k[0] && strcmp(k[0], "k") == 0 && !k[1]);
		ck_assert(plan_table_key(&ctx, &bkp) == NULL);
		ck_assert(!plan_column_info(&ctx, &t, "a", &c));
		ck_assert(plan_column_info(&ctx, &t, "x", &c) && !c.not_null);
		ck_assert(plan_column_info(&ctx, &t, "k", &c) && c.not_null);
		ck_assert(plan_is_new_column(&ctx, &t, "x", 2));
		ck_assert(!plan_is_new_column(&ctx, &bkp, "a", 2));
		plan_state_at(&ctx, 3);
		ck_assert(!plan_column_info(&ctx, &bkp, "a", &c)); /* renamed away */
		plan_state_at(&ctx, 4);
		ck_assert(!plan_is_new_table(&ctx, &t, 4));
		ck_assert(plan_table_key(&ctx, &t) == NULL);
	}
	pgphase_plan_release(&scratch);
	plan_ctx_release(&ctx);
	pgphase_migration_set_release(&set);
	free(dir);
}
END_TEST

START_TEST(drop_and_readd_column)
{
	char *dir = th_tmpdir(), *plan;

	th_exec(SETUP_T);
	th_write(dir, "001_c.sql", "ALTER TABLE t DROP COLUMN b;\n"
				   "ALTER TABLE t ADD COLUMN b text;\n"
				   "ALTER TABLE t RENAME COLUMN b TO c;\n");
	/* the re-added b is new (text, no rows to copy): renamed as written, whatever the
	   catalog's old integer b was */
	plan = plan_ok(dir, false);
	th_assert_not_contains(plan, "rename-column-via-sync-trigger");
	free(plan);
	plan = plan_ok(dir, true);
	th_assert_not_contains(plan, "rename-column-via-sync-trigger");
	free(plan);
	free(dir);
}
END_TEST

START_TEST(quoted_mixed_case_names)
{
	char *dir = th_tmpdir(), *plan;
	const char *files[] = { "001_q.sql", NULL };
	const char *setup = "CREATE SCHEMA \"App Data\";\n"
			    "CREATE TABLE \"App Data\".\"Mixed\" (\"Id\" int PRIMARY KEY, \"Val\" int);\n"
			    "INSERT INTO \"App Data\".\"Mixed\" SELECT g, g FROM generate_series(1, 20) g;\n";

	th_exec(setup);
	th_write(dir, "001_q.sql",
		 "ALTER TABLE \"App Data\".\"Mixed\" ADD COLUMN \"New Col\" varchar;\n"
		 "ALTER TABLE \"App Data\".\"Mixed\" RENAME COLUMN \"New Col\" TO \"Newer Col\";\n"
		 "ALTER TABLE \"App Data\".\"Mixed\" RENAME TO \"Other Name\";\n"
		 "UPDATE \"App Data\".\"Other Name\" SET \"Newer Col\" = \"Val\"::text "
		 "WHERE \"Newer Col\" IS NULL;\n");
	plan = plan_ok(dir, false);
	th_assert_contains(plan, "key (Id int)");
	th_assert_not_contains(plan, "rename-column-via-sync-trigger");
	free(plan);
	migrate_ok(dir);
	ck_assert_int_eq(th_long("SELECT count(*) FROM \"App Data\".\"Other Name\" "
				 "WHERE \"Newer Col\" = \"Val\"::text"), 20);
	assert_same_as_psql(setup, dir, files, NULL);
	free(dir);
}
END_TEST

START_TEST(pending_migrations_see_earlier_ones)
{
	char *dir = th_tmpdir(), *plan;
	const char *files[] = { "001_a.sql", "002_b.sql", "003_c.sql", NULL };

	th_exec(SETUP_T);
	th_write(dir, "001_a.sql", "ALTER TABLE t ADD COLUMN c varchar;\n"
				   "CREATE TABLE n (id int PRIMARY KEY, v int);\n");
	th_write(dir, "002_b.sql", "ALTER TABLE t RENAME TO u;\n"
				   "ALTER TABLE u RENAME COLUMN c TO d;\n"
				   "INSERT INTO n SELECT id, a FROM u ON CONFLICT DO NOTHING;\n");
	th_write(dir, "003_c.sql", "UPDATE u SET b = a WHERE b IS NULL;\n"
				   "ALTER TABLE u ALTER COLUMN d TYPE text;\n"
				   "UPDATE n SET v = v + 1 WHERE v % 10 = 0;\n");
	/* planned before anything applies: 002 and 003 see what 001 and 002 do */
	plan = plan_ok(dir, false);
	th_assert_contains(plan, "key (id int)");
	free(plan);
	migrate_ok(dir);
	ck_assert_int_eq(th_long("SELECT count(*) FROM u WHERE b = a"), 50);
	assert_same_as_psql(SETUP_T, dir, files, DATA_U);
	free(dir);
}
END_TEST

START_TEST(temp_table_statements_as_written)
{
	char *dir = th_tmpdir(), *plan;

	th_exec(SETUP_T);
	th_write(dir, "001_tmp.sql", "CREATE TEMP TABLE tmp (id int PRIMARY KEY, v int);\n"
				     "INSERT INTO tmp SELECT id, a FROM t;\n"
				     "CREATE INDEX tmp_v ON tmp (v);\n"
				     "UPDATE tmp SET v = v + 1 WHERE v > 0;\n"
				     "CREATE TEMPORARY TABLE tmp2 AS SELECT id FROM t;\n"
				     "DELETE FROM tmp2 WHERE id > 10;\n");
	plan = plan_ok(dir, false);
	/* a temporary table lives in the migration's session: everything on it as written */
	th_assert_not_contains(plan, "create-index-concurrently");
	th_assert_not_contains(plan, "data-change-to-backfill");
	free(plan);
	migrate_ok(dir);
	free(dir);
}
END_TEST

/* The planner's internals, asked directly: a data change reading a temporary table. */
START_TEST(reads_temp_table)
{
	char *dir = th_tmpdir();
	struct pgphase_template_vars vars = { "public" };
	struct pgphase_migration_set set;
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_plan scratch;
	struct plan_ctx ctx;
	const struct pgphase_migration *m;
	const struct pgphase_sql *sql;

	th_write(dir, "001_tmp.sql",
		 "UPDATE t SET b = 1 FROM tmp WHERE tmp.id = t.id;\n"             /* 0: before */
		 "CREATE TEMP TABLE tmp (id int, v int);\n"                        /* 1 */
		 "UPDATE t SET b = tmp.v FROM tmp WHERE tmp.id = t.id;\n"          /* 2 */
		 "DELETE FROM t WHERE id IN (SELECT id FROM tmp);\n"               /* 3 */
		 "INSERT INTO t SELECT id, v FROM tmp;\n"                          /* 4 */
		 "UPDATE t SET b = 2 WHERE b IS NULL;\n"                           /* 5 */
		 "DROP TABLE tmp;\n"                                               /* 6 */
		 "UPDATE t SET b = 1 FROM tmp WHERE tmp.id = t.id;\n");            /* 7 */
	ck_assert(pgphase_migration_set_load(&set, dir, &vars, &err) == 0);
	ck_assert(pgphase_migration_set_parse(&set, &err) == 0);
	m = pgphase_migration_find(&set, 1);
	sql = &m->up.sql;
	memset(&ctx, 0, sizeof(ctx));
	memset(&scratch, 0, sizeof(scratch));
	scratch.migration = m;
	scratch.arena = pgphase_arena_new();
	ctx.plan = &scratch;
	ctx.arena = scratch.arena;
	ctx.m = m;
	ctx.opts.pg_version = 15;
	ctx.opts.set = &set;
	ck_assert(!plan_reads_temp_table(&ctx, sql->stmts[0].node, 0));
	ck_assert(plan_reads_temp_table(&ctx, sql->stmts[2].node, 2));
	ck_assert(plan_reads_temp_table(&ctx, sql->stmts[3].node, 3));
	ck_assert(plan_reads_temp_table(&ctx, sql->stmts[4].node, 4));
	ck_assert(!plan_reads_temp_table(&ctx, sql->stmts[5].node, 5));
	ck_assert(!plan_reads_temp_table(&ctx, sql->stmts[7].node, 7));
	pgphase_plan_release(&scratch);
	plan_ctx_release(&ctx);
	pgphase_migration_set_release(&set);
	free(dir);
}
END_TEST

Suite *model_suite(void)
{
	Suite *s = suite_create("model");
	TCase *tc = th_db_tcase("model");

	tcase_add_test(tc, add_then_rename_column);
	tcase_add_test(tc, add_column_then_not_null_and_index);
	tcase_add_test(tc, rename_table_then_use_new_name);
	tcase_add_test(tc, rename_table_phase_by_phase);
	tcase_add_test(tc, offline_plan_same_answers);
	tcase_add_test(tc, rename_table_then_recreate);
	tcase_add_test(tc, rename_then_recreate_model);
	tcase_add_test(tc, drop_and_readd_column);
	tcase_add_test(tc, quoted_mixed_case_names);
	tcase_add_test(tc, pending_migrations_see_earlier_ones);
	tcase_add_test(tc, temp_table_statements_as_written);
	tcase_add_test(tc, reads_temp_table);
	suite_add_tcase(s, tc);
	return s;
}
