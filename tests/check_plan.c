/*
 * The planner without a server: for every strategy the exact SQL it plans (offline, keys and
 * column types from the migrations' CREATE TABLE), placement by phase markers, as-is and
 * new tables, and each plan-time input error (exit 2, file:line:col, before any change).
 * On a server: the backfill SQL `pgphase plan` prints is what the engine sends (bug 2).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "pgphase/lint.h"
#include "pgphase/plan.h"
#include "strategies/fixtures.h"

struct planned {
	struct pgphase_migration_set set;
	struct pgphase_plan plan;
	struct pgphase_error err;
	int rc;
};

/* Write 001 and 002, load the directory and plan 002 offline. */
static void plan_files(struct planned *p, const char *create, const char *change)
{
	char *dir = th_tmpdir();
	struct pgphase_template_vars vars = { "public" };
	struct pgphase_plan_options opts = { 15, NULL, NULL, NULL };
	struct pgphase_migration *m;

	memset(p, 0, sizeof(*p));
	pgphase_error_init(&p->err);
	th_write(dir, "001_create.sql", create);
	th_write(dir, "002_change.sql", change);
	ck_assert_msg(pgphase_migration_set_load(&p->set, dir, &vars, &p->err) == 0, "load: %s",
		      p->err.message);
	ck_assert_msg(pgphase_migration_set_parse(&p->set, &p->err) == 0, "parse: %s", p->err.message);
	m = pgphase_migration_find(&p->set, 2);
	opts.set = &p->set;
	p->rc = pgphase_plan_migration(&p->plan, m, &opts, &p->err);
	free(dir);
}

static void planned_release(struct planned *p)
{
	if (p->rc == 0)
		pgphase_plan_release(&p->plan);
	pgphase_migration_set_release(&p->set);
	pgphase_error_release(&p->err);
}

/* "phase txn strategy | sql"; a backfill step shows the engine's spec: key and statement. */
static char *step_line(const struct pgphase_step *st)
{
	char *s, *key = NULL;
	size_t len = 0;
	FILE *f;

	if (st->kind != PGPHASE_STEP_BACKFILL || st->key.n == 0) {
		if (asprintf(&s, "%s %s %s | %s", pgphase_phase_name(st->phase),
			     pgphase_txn_mode_name(st->txn), st->strategy, st->sql) < 0)
			abort();
		return s;
	}
	f = open_memstream(&key, &len);
	for (int i = 0; i < st->key.n; i++)
		fprintf(f, "%s%s %s", i ? ", " : "", st->key.cols[i], st->key.types[i]);
	fclose(f);
	if (asprintf(&s, "%s %s %s | key (%s) | %s", pgphase_phase_name(st->phase),
		     pgphase_txn_mode_name(st->txn), st->strategy, key, st->dml) < 0)
		abort();
	free(key);
	return s;
}

START_TEST(test_strategy_sql)
{
	const struct strat_fixture *fx = &strat_fixtures[_i];
	struct planned p;
	size_t n = 0;

	plan_files(&p, fx->create, fx->change);
	ck_assert_msg(p.rc == 0, "%s: plan failed: %s", fx->name, p.err.message);
	while (n < 12 && fx->plan[n])
		n++;
	for (size_t i = 0; i < p.plan.n || i < n; i++) {
		char *got = i < p.plan.n ? step_line(&p.plan.steps[i]) : strdup("(none)");

		ck_assert_msg(i < n && strcmp(got, fx->plan[i]) == 0,
			      "%s: step %zu\nexpected: %s\n     got: %s", fx->name, i + 1,
			      i < n ? fx->plan[i] : "(no more steps)", got);
		free(got);
	}
	for (size_t i = 0; i < p.plan.n; i++)
		ck_assert_str_eq(p.plan.steps[i].file + strlen(p.plan.steps[i].file) - 14, "002_change.sql");
	planned_release(&p);
}
END_TEST

/* Every expand step of a strategy can be undone (phase-aware rollback needs no DOWN). */
START_TEST(test_strategy_expand_undo)
{
	const struct strat_fixture *fx = &strat_fixtures[_i];
	struct planned p;

	plan_files(&p, fx->create, fx->change);
	ck_assert_int_eq(p.rc, 0);
	for (size_t i = 0; i < p.plan.n; i++)
		if (p.plan.steps[i].phase == PGPHASE_PHASE_EXPAND)
			ck_assert_msg(p.plan.steps[i].undo_sql != NULL, "%s: expand step %zu has no undo",
				      fx->name, i + 1);
	planned_release(&p);
}
END_TEST

/*
 * What the linter is told about each statement (strategy name and last phase, answered
 * without planning) must be what planning it yields.
 */
static void assert_lint_agrees(const char *create, const char *change)
{
	struct planned p;
	const struct pgphase_migration *m;

	plan_files(&p, create, change);
	ck_assert_msg(p.rc == 0, "plan failed: %s", p.err.message);
	m = pgphase_migration_find(&p.set, 2);
	for (size_t i = 0; i < m->up.sql.n; i++) {
		const struct pgphase_stmt *st = &m->up.sql.stmts[i];
		struct pgphase_lint_stmt_info info = { m, st->node, &m->up.notes[i], false,
						       st->line, st->column, NULL };
		struct pgphase_lint_strategy out;
		const char *name = NULL;
		enum pgphase_phase phase = PGPHASE_PHASE_NONE;

		for (size_t k = 0; k < p.plan.n; k++) {
			const struct pgphase_step *s = &p.plan.steps[k];

			if (s->origin != i || strcmp(s->strategy, "as-written") == 0)
				continue;
			if (!name)
				name = s->strategy;
			if (s->phase > phase)
				phase = s->phase;
		}
		if (!pgphase_lint_planner(NULL, &info, &out)) {
			ck_assert_msg(name == NULL, "%s: line %d: linter sees no strategy, plan has %s",
				      change, st->line, name);
			continue;
		}
		ck_assert_msg(name && strcmp(out.name, name) == 0, "%s: line %d: linter %s, plan %s",
			      change, st->line, out.name, name ? name : "(none)");
		ck_assert_msg(out.phase == phase, "%s: line %d: linter phase %s, plan %s", change,
			      st->line, pgphase_phase_name(out.phase), pgphase_phase_name(phase));
	}
	planned_release(&p);
}

START_TEST(test_strategy_lint_phase)
{
	assert_lint_agrees(strat_fixtures[_i].create, strat_fixtures[_i].change);
}
END_TEST

/* The same under phase markers, which move or raise a strategy's steps. */
START_TEST(test_strategy_lint_phase_markers)
{
	static const char *const changes[] = {
		"-- CONTRACT\nCREATE INDEX t_a_idx2 ON t (a);\n",
		"-- EXPAND\nDROP INDEX t_a_idx;\n",
		"-- CONTRACT\nALTER TABLE t ADD CHECK (n >= 0);\n",
		"-- CONTRACT\nALTER TABLE t ALTER COLUMN a SET NOT NULL;\n",
		"-- CONTRACT\nUPDATE t SET n = 1 WHERE n IS NULL;\n",
		"ALTER TABLE t ADD UNIQUE (a);\n-- CONTRACT\nALTER TABLE t ADD UNIQUE (n);\n",
		"ALTER TABLE t ADD COLUMN v timestamptz DEFAULT clock_timestamp(), ADD CHECK (n > 0);\n",
		"ALTER TABLE t DROP COLUMN n;\nALTER TABLE t RENAME COLUMN a TO b;\n",
	};

	assert_lint_agrees(FX_TABLE "CREATE INDEX t_a_idx ON t (a);\n", changes[_i]);
}
END_TEST

static void expect_plan_error(const char *create, const char *change, const char *where,
			      const char *what)
{
	struct planned p;

	plan_files(&p, create, change);
	ck_assert_msg(p.rc == -1, "expected a plan error containing \"%s\"", what);
	ck_assert_int_eq(p.err.code, PGPHASE_EXIT_USAGE);
	th_assert_contains(p.err.message, where);
	th_assert_contains(p.err.message, what);
	planned_release(&p);
}

START_TEST(test_backfill_ddl)
{
	expect_plan_error(FX_TABLE, "UPDATE t SET n = 1 WHERE n IS NULL;\n-- BACKFILL\n"
				    "ALTER TABLE t ADD COLUMN x int;\n",
			  "002_change.sql:3:1: ", "ALTER TABLE in a BACKFILL section");
}
END_TEST

START_TEST(test_contract_depends_on_later)
{
	struct planned p;

	/* the marker keeps the view in contract, after the later CREATE TABLE ran in expand */
	expect_plan_error(FX_TABLE, "-- CONTRACT\nCREATE VIEW v AS SELECT * FROM t3;\n"
				    "-- EXPAND\nCREATE TABLE t3 (id int);\n",
			  "002_change.sql:2:1: ", "but line 4, which comes after it, runs first "
						  "(in expand) and also touches the name \"t3\"");
	/* an unmarked statement on something created only later: planned in file order, and
	   it fails when it runs, as psql -1 does (no plan-time refusal) */
	plan_files(&p, FX_TABLE, "CREATE VIEW v2 AS SELECT * FROM v1;\n-- CONTRACT\n"
				 "CREATE VIEW v1 AS SELECT 1 AS x;\n");
	ck_assert_msg(p.rc == 0, "%s", p.err.message);
	planned_release(&p);
}
END_TEST

START_TEST(test_no_key)
{
	struct planned p;

	/* no key: the engine cannot batch it, so it runs as written in its place and says why */
	plan_files(&p, "CREATE TABLE nokey (a int, b text);\n",
		   "UPDATE nokey SET b = 'x' WHERE b IS NULL;\n");
	ck_assert_msg(p.rc == 0, "%s", p.err.message);
	ck_assert_int_eq(p.plan.n, 1);
	ck_assert_int_eq(p.plan.steps[0].phase, PGPHASE_PHASE_EXPAND);
	ck_assert_str_eq(p.plan.steps[0].strategy, "as-written");
	ck_assert_ptr_nonnull(p.plan.steps[0].reason);
	th_assert_contains(p.plan.steps[0].reason, "cannot find the table's key");
	planned_release(&p);
}
END_TEST

START_TEST(test_renamed_table_used_later)
{
	expect_plan_error(FX_TABLE, "ALTER TABLE t RENAME TO t2;\nALTER TABLE t DROP COLUMN n;\n",
			  "002_change.sql:2:1: ", "which line 1 renames to \"t2\"");
}
END_TEST

START_TEST(test_as_is_and_new_table)
{
	struct planned p;

	plan_files(&p, FX_TABLE, "-- pgphase:as-is\nCREATE INDEX t_a ON t (a);\n"
				 "CREATE TABLE fresh (id int PRIMARY KEY, v text);\n"
				 "CREATE INDEX fresh_v ON fresh (v);\nALTER TABLE fresh DROP COLUMN v;\n");
	ck_assert_msg(p.rc == 0, "%s", p.err.message);
	ck_assert_int_eq(p.plan.n, 4);
	for (size_t i = 0; i < 4; i++) {
		ck_assert_str_eq(p.plan.steps[i].strategy, "as-written");
		ck_assert_int_eq(p.plan.steps[i].phase, PGPHASE_PHASE_EXPAND);
		ck_assert_int_eq(p.plan.steps[i].txn, PGPHASE_TXN_GROUP);
	}
	ck_assert_str_eq(p.plan.steps[0].sql, "CREATE INDEX t_a ON t (a)");
	ck_assert_str_eq(p.plan.steps[1].undo_sql, "DROP TABLE IF EXISTS fresh");
	planned_release(&p);
}
END_TEST

START_TEST(test_markers_override)
{
	struct planned p;

	plan_files(&p, FX_TABLE, "-- CONTRACT\nALTER TABLE t ALTER COLUMN a SET NOT NULL;\n"
				 "-- EXPAND\nALTER TABLE t DROP COLUMN n;\n");
	ck_assert_msg(p.rc == 0, "%s", p.err.message);
	/* DROP under -- EXPAND stays in expand; SET NOT NULL under -- CONTRACT: NULL count first */
	ck_assert_int_eq(p.plan.steps[0].phase, PGPHASE_PHASE_EXPAND);
	ck_assert_str_eq(p.plan.steps[0].sql, "ALTER TABLE t DROP COLUMN n");
	ck_assert_int_eq(p.plan.steps[1].phase, PGPHASE_PHASE_CONTRACT);
	ck_assert_int_eq(p.plan.steps[1].kind, PGPHASE_STEP_CHECK_NULLS);
	ck_assert_int_eq(pgphase_plan_count(&p.plan, PGPHASE_PHASE_CONTRACT), 4);
	planned_release(&p);
}
END_TEST

START_TEST(test_json)
{
	struct planned p;
	char *json;

	plan_files(&p, FX_TABLE, "CREATE INDEX t_a ON t (a);\n");
	ck_assert_int_eq(p.rc, 0);
	json = pgphase_plan_json(&p.plan, NULL);
	th_assert_contains(json, "\"version\":2,\"name\":\"change\"");
	th_assert_contains(json, "\"phase\":\"expand\",\"txn\":\"none\",\"kind\":\"index\","
				 "\"strategy\":\"create-index-concurrently\"");
	th_assert_contains(json, "\"undo_sql\":\"DROP INDEX CONCURRENTLY IF EXISTS t_a\"");
	free(json);
	planned_release(&p);
}
END_TEST

START_TEST(test_lint_hook)
{
	struct planned p;
	struct pgphase_lint_strategy out;
	const struct pgphase_migration *m;
	struct pgphase_lint_stmt_info info = { 0 };

	plan_files(&p, FX_TABLE, "CREATE INDEX t_a ON t (a);\nALTER TABLE t DROP COLUMN n;\n"
				 "-- pgphase:as-is\nCREATE INDEX t_b ON t (a);\nSELECT 1;\n");
	ck_assert_int_eq(p.rc, 0);
	m = pgphase_migration_find(&p.set, 2);
	info.migration = m;
	for (size_t i = 0; i < 4; i++) {
		info.node = m->up.sql.stmts[i].node;
		info.note = &m->up.notes[i];
		info.rule = "any";
		if (i == 0) {
			ck_assert(pgphase_lint_planner(NULL, &info, &out));
			ck_assert_str_eq(out.name, "create-index-concurrently");
			ck_assert_int_eq(out.phase, PGPHASE_PHASE_EXPAND);
		} else if (i == 1) {
			ck_assert(pgphase_lint_planner(NULL, &info, &out));
			ck_assert_str_eq(out.name, "defer-destructive-to-contract");
			ck_assert_int_eq(out.phase, PGPHASE_PHASE_CONTRACT);
		} else {
			ck_assert(!pgphase_lint_planner(NULL, &info, &out));
		}
	}
	planned_release(&p);
}
END_TEST

START_TEST(test_registry)
{
	const char *name, *summary;
	size_t n = 0;

	while (pgphase_strategy_info(n, &name, &summary)) {
		ck_assert(name[0] && summary[0]);
		n++;
	}
	ck_assert_int_eq(n, 13);
}
END_TEST

/* ---- on a server: what `plan` shows of a backfill is what the engine sends ---------- */

/* "sql" and "open_chunk_sql" of migration i's backfill step, from `plan --format json`. */
static void json_backfill_sql(const char *out, size_t i, char **sql, char **open)
{
	json_error_t e;
	json_t *doc = json_loads(out, 0, &e), *steps, *st;
	const char *o;

	ck_assert_msg(doc != NULL, "plan --format json: %s\n%s", e.text, out);
	steps = json_object_get(json_array_get(json_object_get(doc, "migrations"), i), "steps");
	st = json_array_get(steps, 0);
	ck_assert_str_eq(json_string_value(json_object_get(st, "kind")), "backfill");
	*sql = strdup(json_string_value(json_object_get(st, "sql")));
	o = json_string_value(json_object_get(st, "open_chunk_sql"));
	*open = strdup(o ? o : "(none)");
	json_decref(doc);
}

/* Every "sql: <statement>" line of a --verbose run that is a walk batch, in order. */
static size_t sent_batches(char *log, char **lines, size_t max)
{
	size_t n = 0;

	for (char *l = strtok(log, "\n"); l && n < max; l = strtok(NULL, "\n"))
		if (strncmp(l, "sql: WITH ", 10) == 0 &&
		    (strstr(l, "pgphase_batch AS") || strstr(l, "pgphase_todo AS")))
			lines[n++] = l + 5;
	return n;
}

/* the state schema every command of test_backfill_sql_is_what_runs uses */
#define SS "--state-schema", "Ops State"

START_TEST(test_backfill_sql_is_what_runs)
{
	char *dir = th_tmpdir(), *sql, *open, *off_sql, *off_open, *want, *sent[4096];
	struct th_run r, text;
	size_t n;
	bool open_sent = false;

	/* composite key with a text column, a quoted mixed-case table in a non-public schema,
	 * and a state schema of the user's own (offline plans must render it too) */
	th_write(dir, "001_users.sql", "CREATE SCHEMA app;\n"
		 "CREATE TABLE app.\"Users\" (org int NOT NULL, \"Name\" text NOT NULL, v int,\n"
		 "  PRIMARY KEY (org, \"Name\"));\n");
	th_write(dir, "002_fill.sql", "-- pgphase:batch-size 1000\n"
		 "UPDATE app.\"Users\" u SET v = length(u.\"Name\") WHERE u.v IS NULL;\n");
	th_pgphase(&r, dir, "migrate", "--to", "1", SS, NULL);
	th_assert_exit(&r, 0);
	th_run_release(&r);
	/* three chunks: the middle one walked in one round trip, the first and last not */
	th_exec("INSERT INTO app.\"Users\" SELECT g % 7, 'n''' || g, NULL"
		" FROM generate_series(1, 25000) g");

	th_pgphase(&r, dir, "plan", "--format", "json", SS, NULL);
	th_assert_exit(&r, 0);
	json_backfill_sql(r.out, 0, &sql, &open);
	th_run_release(&r);
	th_pgphase(&text, dir, "plan", SS, NULL);
	th_assert_exit(&text, 0);
	/* offline, the key comes from 001's CREATE TABLE */
	th_pgphase(&r, dir, "plan", "--offline", "--format", "json", SS, NULL);
	th_assert_exit(&r, 0);
	json_backfill_sql(r.out, 1, &off_sql, &off_open);
	th_run_release(&r);

	th_pgphase(&r, dir, "backfill", "--verbose", SS, NULL);
	th_assert_exit(&r, 0);
	n = sent_batches(r.err, sent, 4096);
	ck_assert_msg(n > 3, "expected walk batches in the --verbose log");
	/* the UPDATE changes a column that existed before: its old values are kept, so every
	   batch locks its rows first (backfill_sql.c); what plan printed is sent byte for byte */
	for (size_t i = 0; i < n && strcmp(sent[0], sql) != 0; i++)
		sent[0] = sent[i];
	ck_assert_msg(strcmp(sent[0], sql) == 0, "plan's batch was never sent:\n%s", sql);
	th_assert_contains(sql, "undo_rows");
	/* and the batch of the first and last chunk, bounds as parameters, is sent too */
	for (size_t i = 0; i < n; i++)
		open_sent = open_sent || strcmp(sent[i], open) == 0;
	ck_assert_msg(open_sent, "plan's first-and-last-chunk batch was never sent:\n%s", open);
	th_run_release(&r);
	/* the text plan prints the same statements, each on its own line */
	want = malloc(strlen(sql) + strlen(open) + 16);
	ck_assert_ptr_nonnull(want); /* and gcc -O1 -fsanitize=... knows it (format-overflow) */
	sprintf(want, "\n      %s\n", sql);
	th_assert_contains(text.out, want);
	sprintf(want, "\n      %s\n", open);
	th_assert_contains(text.out, want);
	free(want);
	th_run_release(&text);
	/* offline: the same generator from the key the migrations tell, the same SQL */
	ck_assert_str_eq(off_sql, sql);
	ck_assert_str_eq(off_open, open);
	ck_assert_int_eq(th_long("SELECT count(*) FROM app.\"Users\" WHERE v IS NULL"), 0);
	free(sql);
	free(open);
	free(off_sql);
	free(off_open);
	free(dir);
}
END_TEST

Suite *plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = th_pure_tcase("plan");

	tcase_add_loop_test(tc, test_strategy_sql, 0, (int)N_STRAT_FIXTURES);
	tcase_add_loop_test(tc, test_strategy_expand_undo, 0, (int)N_STRAT_FIXTURES);
	tcase_add_loop_test(tc, test_strategy_lint_phase, 0, (int)N_STRAT_FIXTURES);
	tcase_add_loop_test(tc, test_strategy_lint_phase_markers, 0, 8);
	tcase_add_test(tc, test_backfill_ddl);
	tcase_add_test(tc, test_contract_depends_on_later);
	tcase_add_test(tc, test_no_key);
	tcase_add_test(tc, test_renamed_table_used_later);
	tcase_add_test(tc, test_as_is_and_new_table);
	tcase_add_test(tc, test_markers_override);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_lint_hook);
	tcase_add_test(tc, test_registry);
	suite_add_tcase(s, tc);
	tc = th_db_tcase("plan_db");
	tcase_add_test(tc, test_backfill_sql_is_what_runs);
	suite_add_tcase(s, tc);
	return s;
}
