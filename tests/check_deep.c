/*
 * Deep input (README "Bad input catalogue"): a statement nested deeper than PostgreSQL
 * accepts — a 50,000-term `1+1+…` or `'a'||'a'||…`, as generated SQL writes them — is an
 * input error with file:line:col and exit 2, never a crash, and nothing changes; what
 * PostgreSQL accepts (a few thousand terms) still migrates to the schema `psql -1` gives.
 * The tree toolkit (parse, copy, walk, deparse) also holds on a small thread stack.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pgphase/sql.h"
#include "sql/depth.h"
#include "sql/tree.h"
#include "base/arena.h"
#include "base/util.h"

/* "prefix t1 op t2 op … tn suffix" (malloc'd) */
static char *chain(const char *prefix, const char *term, const char *op, int n,
		   const char *suffix)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_adds(&sb, prefix);
	for (int i = 0; i < n; i++) {
		if (i)
			sbuf_adds(&sb, op);
		sbuf_adds(&sb, term);
	}
	sbuf_adds(&sb, suffix);
	return sbuf_detach(&sb);
}

/* "prefix open×n middle close×n suffix" (malloc'd) */
static char *nest(const char *prefix, const char *open, const char *middle, const char *close,
		  int n, const char *suffix)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_adds(&sb, prefix);
	for (int i = 0; i < n; i++)
		sbuf_adds(&sb, open);
	sbuf_adds(&sb, middle);
	for (int i = 0; i < n; i++)
		sbuf_adds(&sb, close);
	sbuf_adds(&sb, suffix);
	return sbuf_detach(&sb);
}

static void assert_untouched(void)
{
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);
}

/* Run one pgphase command on dir; it must end with exit code, never a signal. */
static void run_expect(const char *dir, int code, const char *needle, const char *cmd,
		       const char *flag)
{
	struct th_run r;

	th_pgphase(&r, dir, cmd, flag, NULL);
	ck_assert_msg(r.status < 128, "%s crashed (status %d)\n%s", cmd, r.status, r.err);
	th_assert_exit(&r, code);
	th_assert_contains(r.err, needle);
	th_run_release(&r);
}

/* The case: 50,000 terms of + and of ||, behind a valid statement. */
START_TEST(fifty_thousand_terms_refused)
{
	static const char *const shapes[][2] = {
		{ "1", "+" }, { "'a'", "||" },
	};

	for (size_t i = 0; i < 2; i++) {
		char *d = th_tmpdir(), *expr, *file;
		struct th_run r;

		expr = chain("CREATE TABLE \"Wide Deep\" AS SELECT ", shapes[i][0], shapes[i][1],
			     50000, " AS x;\n");
		file = malloc(strlen(expr) + 64);
		sprintf(file, "CREATE TABLE first (id int);\n%s", expr);
		th_write(d, "001_deep.sql", file);
		run_expect(d, 2, "001_deep.sql:2:", "migrate", NULL);
		run_expect(d, 2, "expression nested too deeply (50", "migrate", NULL);
		run_expect(d, 2, "limit 16000)", "plan", NULL);
		run_expect(d, 2, "001_deep.sql:2:", "migrate", "--dry-run");
		run_expect(d, 2, "001_deep.sql:2:", "expand", NULL);
		assert_untouched();
		/* lint: an error finding like any statement the parser refuses (exit 1) */
		{
			const char *argv[] = { "lint", d, NULL };

			th_cli(&r, NULL, NULL, argv);
			ck_assert_msg(r.status == 1, "lint: status %d\n%s", r.status, r.err);
			th_assert_contains(r.out, "001_deep.sql:2:");
			th_assert_contains(r.out, "nested too deeply");
			th_run_release(&r);
		}
		/* status reads the files too */
		{
			th_pgphase(&r, d, "status", NULL);
			ck_assert_msg(r.status < 128, "status crashed (%d)\n%s", r.status, r.err);
			th_run_release(&r);
		}
		assert_untouched();
		free(expr);
		free(file);
		free(d);
	}
}
END_TEST

/* Other deep shapes: parentheses, subqueries, CASE, ARRAY, casts, UNION ALL, a CHECK and a
 * DEFAULT — each an input error (exit 2, the file named), never a crash. */
START_TEST(deep_shapes_refused)
{
	char *texts[] = {
		nest("CREATE TABLE t AS SELECT ", "(", "1", ")", 20000, " AS x;\n"),
		nest("CREATE TABLE t AS SELECT ", "(SELECT ", "1", ")", 30000, " AS x;\n"),
		nest("CREATE TABLE t AS SELECT ", "CASE WHEN true THEN ", "1", " END", 30000,
		     " AS x;\n"),
		nest("CREATE TABLE t AS SELECT ", "ARRAY[", "1", "]", 30000, " AS x;\n"),
		nest("CREATE TABLE t AS SELECT 1", "::int", "", "", 30000, " AS x;\n"),
		chain("CREATE VIEW v AS ", "SELECT 1 AS x", " UNION ALL ", 30000, ";\n"),
		chain("CREATE TABLE t (x int CHECK (x < ", "1", "+", 30000, "));\n"),
		chain("CREATE TABLE t (x int DEFAULT ", "1", "-", 30000, ");\n"),
		/* longer than the parse stack holds: bounded from its tokens before parsing */
		chain("CREATE TABLE t AS SELECT ", "1", "+", 200000, " AS x;\n"),
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *d = th_tmpdir();

		th_write(d, "001_deep.sql", texts[i]);
		run_expect(d, 2, "001_deep.sql:1:", "migrate", NULL);
		run_expect(d, 2, "001_deep.sql:1:", "plan", NULL);
		assert_untouched();
		free(texts[i]);
		free(d);
	}
}
END_TEST

/* What PostgreSQL accepts migrates as psql -1 runs it: the oracle is psql. */
START_TEST(accepted_depths_migrate)
{
	char *parts[] = {
		chain("CREATE TABLE plus AS SELECT ", "1", "+", 2000, " AS x;\n"),
		chain("CREATE TABLE cat AS SELECT ", "'a'", "||", 2000, " AS x;\n"),
		nest("CREATE TABLE casts AS SELECT 1", "::bigint", "", "", 5000, " AS x;\n"),
		chain("CREATE VIEW un AS ", "SELECT 1 AS x", " UNION ALL ", 3000, ";\n"),
		nest("CREATE TABLE subs AS SELECT ", "(SELECT ", "1", ")", 1000, " AS x;\n"),
		chain("CREATE TABLE \"Checked\" (\"X y\" int CHECK (\"X y\" < ", "1", "+", 1000,
		      "));\n"),
		chain("ALTER TABLE pre ADD CONSTRAINT pre_c CHECK (v < ", "1", "+", 2000, ");\n"),
		chain("ALTER TABLE pre ADD COLUMN w int DEFAULT ", "1", "+", 2000, ";\n"),
		chain("UPDATE pre SET v = ", "1", "+", 1000, " WHERE v IS NULL;\n"),
		/* long and flat (bounded from its tokens, not refused) */
		chain("INSERT INTO pre (id, v) VALUES ", "(1000000, 1)", ", ", 30000,
		      " ON CONFLICT DO NOTHING;\n"),
	};
	const char *setup = "CREATE TABLE pre (id int PRIMARY KEY, v int);"
			    "INSERT INTO pre SELECT g, NULL FROM generate_series(1, 50) g";
	char *db_psql = th_extra_db("psql"), *d = th_tmpdir(), *body, *path;
	size_t len = 1;
	struct th_run r;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		len += strlen(parts[i]);
	body = calloc(1, len);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		strcat(body, parts[i]);
		free(parts[i]);
	}
	th_write(d, "001_deep.sql", body);
	th_exec(setup);
	{
		char *ci = th_conninfo_for(db_psql);
		PGconn *c = PQconnectdb(ci);
		PGresult *res = PQexec(c, setup);

		ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
		PQclear(res);
		PQfinish(c);
		free(ci);
	}
	path = malloc(strlen(d) + 32);
	sprintf(path, "%s/001_deep.sql", d);
	ck_assert_int_eq(th_psql_file(db_psql, path, NULL), 0);
	th_pgphase(&r, d, "migrate", NULL);
	th_assert_exit(&r, 0);
	th_run_release(&r);
	th_assert_same_schema(db_psql, th_dbname());
	ck_assert_int_eq(th_long("SELECT x FROM plus"), 2000);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pre WHERE v = 1000"), 50);
	free(path);
	free(body);
	free(d);
	free(db_psql);
}
END_TEST

/* ---- the toolkit on a small thread stack ------------------------------------------- */

static enum sql_walk_next count_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	(void)m;
	(void)slot;
	(*(size_t *)arg)++;
	return SQL_WALK_CONTINUE;
}

struct small_job {
	const char *text;
	int rc, code;
	size_t visited;
	char *deparsed;
};

static void *small_main(void *p)
{
	struct small_job *j = p;
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;

	j->rc = pgphase_sql_parse(&sql, j->text, "deep.sql", &err);
	j->code = err.code;
	if (j->rc == 0) {
		struct pgphase_arena *a = pgphase_arena_new();
		const ProtobufCMessage *copy = pgphase_message_copy(a, &sql.stmts[0].node->base);

		sql_tree_walk(copy, 0, count_visit, &j->visited);
		j->deparsed = pgphase_node_deparse(sql.stmts[0].node, &err);
		pgphase_arena_free(a);
		pgphase_sql_release(&sql);
	}
	pgphase_error_release(&err);
	return NULL;
}

static void on_small_stack(struct small_job *j)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	ck_assert_int_eq(pthread_create(&t, &attr, small_main, j), 0);
	pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
}

START_TEST(toolkit_on_small_stack)
{
	char *ok = chain("SELECT ", "1", "+", SQL_DEPTH_LIMIT - 100, "");
	char *deep = chain("SELECT ", "1", "+", 50000, "");
	struct small_job a = { .text = ok }, b = { .text = deep };

	on_small_stack(&a);
	ck_assert_int_eq(a.rc, 0);
	ck_assert_uint_gt(a.visited, (size_t)SQL_DEPTH_LIMIT - 100);
	ck_assert_ptr_nonnull(a.deparsed);
	ck_assert_int_eq(strncmp(a.deparsed, "SELECT ", 7), 0);
	on_small_stack(&b);
	ck_assert_int_eq(b.rc, -1);
	ck_assert_int_eq(b.code, 2);
	free(a.deparsed);
	free(ok);
	free(deep);
}
END_TEST

Suite *deep_suite(void)
{
	Suite *s = suite_create("deep");
	TCase *tc = th_db_tcase("deep");
	TCase *pure = th_pure_tcase("deep_pure");

	tcase_add_test(tc, fifty_thousand_terms_refused);
	tcase_add_test(tc, deep_shapes_refused);
	tcase_add_test(tc, accepted_depths_migrate);
	tcase_add_test(pure, toolkit_on_small_stack);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, pure);
	return s;
}
