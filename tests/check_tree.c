/*
 * The SQL-tree toolkit (src/sql/tree.h) and the backoff (src/base/backoff.h): walk order,
 * skipping, early stop and replacement in a slot; the volatility table; the ALTER TABLE
 * splitter and its sub-command positions; backoff bounds, budget and sleep.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "base/backoff.h"
#include "base/util.h"
#include "pgphase/sql.h"
#include "sql/tree.h"

static struct pgphase_sql parse1(const char *text)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;

	ck_assert_msg(pgphase_sql_parse(&sql, text, "t.sql", &err) == 0, "parse %s: %s", text,
		      err.message);
	ck_assert_uint_eq(sql.n, 1);
	return sql;
}

/* ---- the walk ------------------------------------------------------------------------ */

struct seen {
	char names[256]; /* column names, space-separated, in visit order */
	int stop_after;  /* stop at this many columns (0: never) */
	int columns;
	int nodes, node_slots_ok;
	bool skip_sublinks;
};

static enum sql_walk_next record(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	struct seen *s = arg;

	if (m->descriptor == &pg_query__node__descriptor) {
		s->nodes++;
		s->node_slots_ok += slot && *slot == m;
		return SQL_WALK_CONTINUE;
	}
	if (slot)
		ck_assert_ptr_eq(*slot, m);
	if (s->skip_sublinks && m->descriptor == &pg_query__sub_link__descriptor)
		return SQL_WALK_SKIP;
	if (m->descriptor == &pg_query__column_ref__descriptor) {
		const PgQuery__ColumnRef *cr = (const PgQuery__ColumnRef *)m;
		const PgQuery__Node *last = cr->fields[cr->n_fields - 1];

		strcat(s->names, s->names[0] ? " " : "");
		strcat(s->names, last->node_case == PG_QUERY__NODE__NODE_STRING ? last->string->sval
										 : "*");
		if (++s->columns == s->stop_after)
			return SQL_WALK_STOP;
	}
	return SQL_WALK_CONTINUE;
}

START_TEST(walk_order_skip_and_stop)
{
	struct pgphase_sql sql = parse1("SELECT a + b, (SELECT c FROM u WHERE d = 1) FROM t "
					"WHERE e > f ORDER BY g");
	const ProtobufCMessage *root = &sql.stmts[0].node->base;
	struct seen s;

	memset(&s, 0, sizeof(s));
	ck_assert(sql_tree_walk(root, 0, record, &s));
	/* parents before children, fields in declaration order: target list, FROM, WHERE, ... */
	ck_assert_str_eq(s.names, "a b c d e f g");
	ck_assert_int_eq(s.nodes, 0); /* Node wrappers are looked through */

	memset(&s, 0, sizeof(s));
	s.stop_after = 3;
	ck_assert(!sql_tree_walk(root, 0, record, &s));
	ck_assert_str_eq(s.names, "a b c");

	memset(&s, 0, sizeof(s));
	s.skip_sublinks = true;
	ck_assert(sql_tree_walk(root, 0, record, &s));
	ck_assert_str_eq(s.names, "a b e f g");

	/* SQL_WALK_NODES shows each Node wrapper too, in its own slot */
	memset(&s, 0, sizeof(s));
	ck_assert(sql_tree_walk(root, SQL_WALK_NODES, record, &s));
	ck_assert_str_eq(s.names, "a b c d e f g");
	ck_assert_int_gt(s.nodes, 7);
	ck_assert_int_eq(s.node_slots_ok, s.nodes - 1); /* all but the root, which has no slot */
	ck_assert(sql_tree_walk(NULL, 0, record, &s));
	pgphase_sql_release(&sql);
}
END_TEST

struct replace {
	ProtobufCMessage *with;
	ProtobufCMessage **where, *old;
	struct seen seen;
};

/* Replace the Node holding column x by another node; record the columns seen. */
static enum sql_walk_next replace_x(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	struct replace *r = arg;
	const PgQuery__Node *n = (const PgQuery__Node *)m;

	if (slot && m->descriptor == &pg_query__node__descriptor &&
	    n->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
	    strcmp(n->column_ref->fields[0]->string->sval, "x") == 0) {
		r->where = slot;
		r->old = *slot;
		*slot = r->with;
		return SQL_WALK_CONTINUE;
	}
	return record(m, slot, &r->seen);
}

START_TEST(walk_replaces_in_slot)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql = parse1("SELECT x, z FROM t");
	struct pgphase_sql expr = parse1("SELECT 1 + y");
	struct replace r;
	char *out;

	memset(&r, 0, sizeof(r));
	r.with = &expr.stmts[0].node->select_stmt->target_list[0]->res_target->val->base;
	ck_assert(sql_tree_walk(&sql.stmts[0].node->base, SQL_WALK_NODES, replace_x, &r));
	ck_assert_ptr_nonnull(r.where);
	/* the walk went on below the new node, not the old one */
	ck_assert_str_eq(r.seen.names, "y z");
	out = pgphase_node_deparse(sql.stmts[0].node, &err);
	ck_assert_str_eq(out, "SELECT 1 + y, z FROM t");
	free(out);
	*r.where = r.old; /* each tree frees its own nodes */
	pgphase_sql_release(&expr);
	pgphase_sql_release(&sql);
}
END_TEST

/* ---- volatility ---------------------------------------------------------------------- */

static enum sql_volatility volatility_of(const char *expr, const char **func)
{
	char *text = xasprintf("SELECT %s", expr);
	struct pgphase_sql sql = parse1(text);
	enum sql_volatility v;
	static char name[64];
	const char *f = NULL;

	v = sql_expr_volatility(sql.stmts[0].node->select_stmt->target_list[0]->res_target->val, &f);
	snprintf(name, sizeof(name), "%s", f ? f : "(null)");
	*func = name;
	pgphase_sql_release(&sql);
	free(text);
	return v;
}

START_TEST(volatility_table)
{
	const char *f;

	ck_assert_int_eq(volatility_of("random()", &f), SQL_VOL_VOLATILE);
	ck_assert_str_eq(f, "random");
	ck_assert_int_eq(volatility_of("pg_catalog.random()", &f), SQL_VOL_VOLATILE);
	ck_assert_str_eq(f, "random");
	ck_assert_int_eq(volatility_of("gen_random_uuid()", &f), SQL_VOL_VOLATILE);
	ck_assert_int_eq(volatility_of("nextval('s')", &f), SQL_VOL_VOLATILE);
	ck_assert_int_eq(volatility_of("clock_timestamp()", &f), SQL_VOL_VOLATILE);
	ck_assert_int_eq(volatility_of("now()", &f), SQL_VOL_STABLE);
	ck_assert_str_eq(f, "(null)");
	ck_assert_int_eq(volatility_of("lower('A') || 'b'", &f), SQL_VOL_STABLE);
	ck_assert_int_eq(volatility_of("42", &f), SQL_VOL_STABLE);
	ck_assert_int_eq(volatility_of("my_func(1)", &f), SQL_VOL_UNKNOWN);
	ck_assert_str_eq(f, "my_func");
	/* a known volatile call decides over an unknown one before it; the first unknown names */
	ck_assert_int_eq(volatility_of("f1(f2(now())) + random()", &f), SQL_VOL_VOLATILE);
	ck_assert_str_eq(f, "random");
	ck_assert_int_eq(volatility_of("f1(1) + f2(2)", &f), SQL_VOL_UNKNOWN);
	ck_assert_str_eq(f, "f1");
	ck_assert_int_eq(sql_expr_volatility(NULL, NULL), SQL_VOL_STABLE);
}
END_TEST

/* ---- ALTER TABLE splitter ------------------------------------------------------------ */

START_TEST(alter_split_keeps_commands_and_positions)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	const char *text = "-- lead\n"
			   "ALTER TABLE ONLY public.t\n"
			   "  ADD COLUMN a int DEFAULT f(1, 2), /* c, d */ DROP COLUMN b,\n"
			   "  ADD CONSTRAINT k CHECK (a IN (1, 2))";
	static const char *const starts[] = { "ADD COLUMN a", "DROP COLUMN b", "ADD CONSTRAINT k" };
	static const char *const sqls[] = {
		"ALTER TABLE ONLY public.t ADD COLUMN a int DEFAULT f(1, 2)",
		"ALTER TABLE ONLY public.t DROP b",
		"ALTER TABLE ONLY public.t ADD CONSTRAINT k CHECK (a IN (1, 2))",
	};
	struct pgphase_sql sql = parse1(text);
	const PgQuery__Node *n = sql.stmts[0].node;
	struct sql_alter_part *parts;
	size_t np = sql_alter_split(n, text, strlen(text), &parts);

	ck_assert_uint_eq(np, 3);
	for (size_t i = 0; i < np; i++) {
		char *out = pgphase_node_deparse(&parts[i].node, &err);

		ck_assert_uint_eq(parts[i].node.alter_table_stmt->n_cmds, 1);
		ck_assert_ptr_eq(parts[i].node.alter_table_stmt->cmds[0],
				 n->alter_table_stmt->cmds[i]);
		ck_assert_ptr_eq(parts[i].node.alter_table_stmt->relation,
				 n->alter_table_stmt->relation);
		ck_assert_str_eq(out, sqls[i]);
		ck_assert_int_eq(parts[i].location, (int)(strstr(text, starts[i]) - text));
		ck_assert_int_eq(sql_alter_cmd_location(n->alter_table_stmt, text, strlen(text), i),
				 parts[i].location);
		free(out);
	}
	ck_assert_uint_eq(n->alter_table_stmt->n_cmds, 3); /* the original is untouched */
	free(parts);

	/* without text, no positions */
	np = sql_alter_split(n, NULL, 0, &parts);
	ck_assert_uint_eq(np, 3);
	ck_assert_int_eq(parts[2].location, -1);
	free(parts);
	ck_assert_int_eq(sql_alter_cmd_location(n->alter_table_stmt, text, strlen(text), 3), -1);
	pgphase_sql_release(&sql);

	/* not an ALTER TABLE */
	sql = parse1("SELECT 1");
	ck_assert_uint_eq(sql_alter_split(sql.stmts[0].node, NULL, 0, &parts), 0);
	ck_assert_ptr_null(parts);
	pgphase_sql_release(&sql);
}
END_TEST

/* ---- backoff ------------------------------------------------------------------------- */

START_TEST(backoff_bounds)
{
	const struct pgphase_backoff full = { 100000, 10000000, false };
	const struct pgphase_backoff equal = { 500000, 30000000, true };

	ck_assert_int_eq(backoff_ceiling(&full, 0), 100000);
	ck_assert_int_eq(backoff_ceiling(&full, 3), 800000);
	ck_assert_int_eq(backoff_ceiling(&full, 7), 10000000);
	ck_assert_int_eq(backoff_ceiling(&full, 1000), 10000000); /* no overflow */
	ck_assert_int_eq(backoff_ceiling(&full, -1), 100000);
	for (int n = 0; n < 40; n++) {
		int64_t cf = backoff_ceiling(&full, n), ce = backoff_ceiling(&equal, n);
		int64_t max_full = 0;

		ck_assert_int_eq(cf, n < 7 ? 100000LL << n : 10000000);
		for (int k = 0; k < 200; k++) {
			int64_t d = backoff_delay(&full, n), e = backoff_delay(&equal, n);

			ck_assert_msg(d >= 0 && d <= cf, "full jitter %lld outside [0, %lld]",
				      (long long)d, (long long)cf);
			ck_assert_msg(e >= ce / 2 && e <= ce, "equal jitter %lld outside [%lld, %lld]",
				      (long long)e, (long long)ce / 2, (long long)ce);
			if (d > max_full)
				max_full = d;
		}
		ck_assert_msg(max_full > cf / 2, "200 draws never reached the upper half");
	}
}
END_TEST

static bool never(void *arg)
{
	(void)arg;
	return false;
}

START_TEST(backoff_budget_and_sleep)
{
	const struct pgphase_backoff equal = { 500000, 30000000, true };
	const struct pgphase_backoff tiny = { 1000, 1000, false };
	int64_t t0;

	/* an equal-jitter wait is at least 0.25 s: it does not fit in 1 ms of budget */
	ck_assert_int_eq(backoff_next(&equal, 0, now_us() + 1000), -1);
	ck_assert_int_eq(backoff_next(&tiny, 5, now_us() - 1), -1);
	ck_assert_int_le(backoff_next(&tiny, 5, now_us() + 1000000), 1000);
	ck_assert_int_ge(backoff_next(&tiny, 5, now_us() + 1000000), 0);
	t0 = now_us();
	ck_assert(backoff_sleep(20000, NULL, NULL));
	ck_assert_int_ge(now_us() - t0, 20000);
	t0 = now_us();
	ck_assert(!backoff_sleep(5000000, never, NULL));
	ck_assert_int_lt(now_us() - t0, 1000000);
}
END_TEST

/*
 * The oracle for the volatility table: every entry PostgreSQL 15 knows (extension functions
 * like uuid_generate_v4 may be absent) agrees with pg_proc.provolatile ('v' volatile; 's', 'i'
 * evaluated once).  Overloads must agree with each other, or the table could not say.
 */
START_TEST(volatility_table_matches_pg_proc)
{
	const char *name;
	enum sql_volatility v;
	size_t checked = 0;

	for (size_t i = 0; sql_func_table_entry(i, &name, &v); i++) {
		const char *params[1] = { name };
		PGconn *c = th_connect();
		PGresult *r = PQexecParams(c, "SELECT DISTINCT provolatile = 'v' FROM pg_proc "
					      "WHERE proname = $1", 1, NULL, params, NULL, NULL, 0);

		ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
		ck_assert_msg(PQntuples(r) <= 1, "overloads of %s differ: some volatile, some not",
			      name);
		if (PQntuples(r) == 1) {
			bool vol = strcmp(PQgetvalue(r, 0, 0), "t") == 0;

			ck_assert_msg(vol == (v == SQL_VOL_VOLATILE),
				      "%s is %s in pg_proc but %s in the table", name,
				      vol ? "volatile" : "stable or immutable",
				      v == SQL_VOL_VOLATILE ? "volatile" : "stable");
			checked++;
		}
		PQclear(r);
		PQfinish(c);
	}
	ck_assert_msg(checked >= 15, "only %zu table entries found in pg_proc", checked);
}
END_TEST

Suite *tree_suite(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = th_pure_tcase("tree");

	tcase_add_test(tc, walk_order_skip_and_stop);
	tcase_add_test(tc, walk_replaces_in_slot);
	tcase_add_test(tc, volatility_table);
	tcase_add_test(tc, alter_split_keeps_commands_and_positions);
	tcase_add_test(tc, backoff_bounds);
	tcase_add_test(tc, backoff_budget_and_sleep);
	suite_add_tcase(s, tc);
	tc = th_db_tcase("tree_db");
	tcase_add_test(tc, volatility_table_matches_pg_proc);
	suite_add_tcase(s, tc);
	return s;
}
