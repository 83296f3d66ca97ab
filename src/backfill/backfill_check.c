/*
 * Backfill statements as trees: the checks a statement must pass before it can run in
 * batches, and the rendering of batch statements by grafting the user's SET list, FROM/USING
 * list, table and WHERE clause (for INSERT ... SELECT: target table, column list, ON
 * CONFLICT, and the SELECT's list, FROM list and WHERE) into a parsed template, then
 * deparsing.  Nothing here looks
 * at SQL text: the SQL-tree toolkit's walk (src/sql/tree.h) finds column references and
 * placeholders.  Does not talk to the database (see backfill_key.c).
 */
#include <stdlib.h>
#include <string.h>

#include "backfill/backfill.h"
#include "base/util.h"
#include "sql/tree.h"

static bool is(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
	return m->descriptor == d;
}

/* Last name of a column reference ("a" for x.a), or NULL for x.*. */
static const char *column_name(const PgQuery__ColumnRef *c)
{
	const PgQuery__Node *last = c->n_fields ? c->fields[c->n_fields - 1] : NULL;

	return last && last->node_case == PG_QUERY__NODE__NODE_STRING ? last->string->sval : NULL;
}

const PgQuery__RangeVar *pgphase_backfill_source(const PgQuery__Node *stmt)
{
	const PgQuery__SelectStmt *sel;

	switch (stmt->node_case) {
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		return stmt->update_stmt->relation;
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		return stmt->delete_stmt->relation;
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		/* INSERT ... SELECT walks the SELECT's first FROM item, when that is a table */
		if (!stmt->insert_stmt->select_stmt ||
		    stmt->insert_stmt->select_stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
			return NULL;
		sel = stmt->insert_stmt->select_stmt->select_stmt;
		if (sel->op != PG_QUERY__SET_OPERATION__SETOP_NONE || sel->n_from_clause == 0 ||
		    sel->from_clause[0]->node_case != PG_QUERY__NODE__NODE_RANGE_VAR)
			return NULL;
		return sel->from_clause[0]->range_var;
	default:
		return NULL;
	}
}

/* The SELECT of an INSERT ... SELECT (checked by pgphase_backfill_check). */
static const PgQuery__SelectStmt *insert_select(const PgQuery__Node *stmt)
{
	return stmt->insert_stmt->select_stmt->select_stmt;
}

const PgQuery__Node *bf_where(const PgQuery__Node *stmt)
{
	switch (stmt->node_case) {
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		return stmt->update_stmt->where_clause;
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		return stmt->delete_stmt->where_clause;
	default:
		return insert_select(stmt)->where_clause;
	}
}

/* ---- checks ------------------------------------------------------------------------ */

struct names_seen {
	PgQuery__Node **targets; /* the UPDATE's SET list */
	size_t n_targets;
	bool found;
	bool current_of;
};

static enum sql_walk_next find_set_column(ProtobufCMessage *m, ProtobufCMessage **slot,
					  void *arg)
{
	struct names_seen *ns = arg;
	const char *name;

	(void)slot;
	if (is(m, &pg_query__current_of_expr__descriptor))
		ns->current_of = true;
	if (!is(m, &pg_query__column_ref__descriptor))
		return SQL_WALK_CONTINUE;
	name = column_name((const PgQuery__ColumnRef *)m);
	for (size_t i = 0; name && i < ns->n_targets; i++) {
		const PgQuery__ResTarget *t = ns->targets[i]->res_target;

		if (t && t->name && strcmp(t->name, name) == 0)
			ns->found = true;
	}
	return SQL_WALK_SKIP;
}

static int refuse(const struct pgphase_backfill_spec *spec, struct pgphase_error *err,
		  const char *what)
{
	if (spec->file)
		return pgphase_error_at(err, PGPHASE_EXIT_USAGE, "backfill-refused", spec->file,
					spec->line, spec->column, "%s", what);
	return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "%s", what);
}

/* Same table, when one of the names is unqualified. */
static bool same_table(const PgQuery__RangeVar *a, const PgQuery__RangeVar *b)
{
	return strcmp(a->relname, b->relname) == 0 &&
	       (!a->schemaname || !a->schemaname[0] || !b->schemaname || !b->schemaname[0] ||
		strcmp(a->schemaname, b->schemaname) == 0);
}

struct target_seen {
	const PgQuery__RangeVar *target;
	bool found;
};

static enum sql_walk_next find_target(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	struct target_seen *ts = arg;

	(void)slot;
	if (is(m, &pg_query__range_var__descriptor) &&
	    same_table((const PgQuery__RangeVar *)m, ts->target))
		ts->found = true;
	return ts->found ? SQL_WALK_STOP : SQL_WALK_CONTINUE;
}

/* "NOT EXISTS (SELECT ... FROM target ...)" */
static bool is_anti_join(const PgQuery__Node *n, const PgQuery__RangeVar *target)
{
	const PgQuery__SubLink *sl;
	struct target_seen ts = { target, false };
	const PgQuery__SelectStmt *sub;

	if (n->node_case != PG_QUERY__NODE__NODE_BOOL_EXPR ||
	    n->bool_expr->boolop != PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR || n->bool_expr->n_args != 1 ||
	    n->bool_expr->args[0]->node_case != PG_QUERY__NODE__NODE_SUB_LINK)
		return false;
	sl = n->bool_expr->args[0]->sub_link;
	if (sl->sub_link_type != PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK || !sl->subselect ||
	    sl->subselect->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
		return false;
	sub = sl->subselect->select_stmt;
	for (size_t i = 0; i < sub->n_from_clause && !ts.found; i++)
		sql_tree_walk(&sub->from_clause[i]->base, 0, find_target, &ts);
	return ts.found;
}

/*
 * A conjunct of the WHERE clause (so it holds for every row the INSERT takes) that is an
 * anti-join against the target: a row already copied no longer qualifies.
 */
static bool has_anti_join(const PgQuery__Node *where, const PgQuery__RangeVar *target)
{
	if (!where)
		return false;
	if (where->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
	    where->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
		for (size_t i = 0; i < where->bool_expr->n_args; i++)
			if (is_anti_join(where->bool_expr->args[i], target))
				return true;
		return false;
	}
	return is_anti_join(where, target);
}

/*
 * INSERT ... SELECT: a plain SELECT over a table (its first FROM item, the walked source),
 * whose result per batch is its result over that batch's source rows (no GROUP BY, DISTINCT,
 * LIMIT, window, set operation), into another table, and able to tell rows already copied:
 * ON CONFLICT DO NOTHING / DO UPDATE, or a NOT EXISTS anti-join against the target.
 */
static int check_insert(const struct pgphase_backfill_spec *spec, bool idempotent,
			struct pgphase_error *err)
{
	const PgQuery__InsertStmt *ins = spec->stmt->insert_stmt;
	const PgQuery__SelectStmt *sel;
	const PgQuery__RangeVar *src;
	char *what;
	int rc;

	if (!ins->select_stmt || ins->select_stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT ||
	    ins->select_stmt->select_stmt->n_values_lists)
		return refuse(spec, err, "only INSERT ... SELECT can run as a backfill, not "
					 "INSERT ... VALUES");
	sel = ins->select_stmt->select_stmt;
	if (ins->with_clause || ins->n_returning_list || sel->with_clause) {
		refuse(spec, err, "cannot run a statement with WITH or RETURNING in batches");
		pgphase_error_hint(err, "drop the WITH/RETURNING clause, or put \"-- pgphase:as-is\" "
					"before it to run it once as written");
		return -1;
	}
	if (sel->op != PG_QUERY__SET_OPERATION__SETOP_NONE || sel->n_group_clause ||
	    sel->having_clause || sel->n_distinct_clause || sel->limit_count || sel->limit_offset ||
	    sel->n_window_clause || sel->n_locking_clause) {
		refuse(spec, err, "cannot run INSERT ... SELECT in batches when the SELECT has "
				  "UNION/INTERSECT/EXCEPT, GROUP BY, HAVING, DISTINCT, LIMIT, OFFSET, "
				  "WINDOW or FOR UPDATE/SHARE: a batch sees only some of the rows");
		pgphase_error_hint(err, "put \"-- pgphase:as-is\" before it to run it once as "
					"written");
		return -1;
	}
	src = pgphase_backfill_source(spec->stmt);
	if (!src) {
		refuse(spec, err, "cannot run INSERT ... SELECT in batches: the first item of its "
				  "FROM list must be a table (its key is what the batches walk)");
		pgphase_error_hint(err, "put the table first in FROM, or put \"-- pgphase:as-is\" "
					"before it to run it once as written");
		return -1;
	}
	if (same_table(src, ins->relation))
		return refuse(spec, err, "cannot run INSERT ... SELECT in batches when it reads the "
					 "table it inserts into: the walk would meet its own rows");
	if (!idempotent)
		return 0; /* each source key range is copied once: its cursor commits with it */
	if (ins->on_conflict_clause &&
	    (ins->on_conflict_clause->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_NOTHING ||
	     ins->on_conflict_clause->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_UPDATE))
		return 0;
	if (has_anti_join(sel->where_clause, ins->relation))
		return 0;
	what = xasprintf("INSERT into \"%s\" cannot run in batches: it has neither ON CONFLICT "
			 "nor a \"NOT EXISTS (SELECT ... FROM %s ...)\" condition, so it cannot "
			 "tell rows already copied from pending ones and a rerun would insert rows "
			 "twice", ins->relation->relname, ins->relation->relname);
	rc = refuse(spec, err, what);
	pgphase_error_hint(err, "add \"ON CONFLICT (key) DO NOTHING\", or \"AND NOT EXISTS "
				"(SELECT 1 FROM target WHERE target.key = source.key)\" to the WHERE "
				"clause; or put \"-- pgphase:as-is\" before it to run it once as "
				"written");
	free(what);
	return rc;
}

static int check(const struct pgphase_backfill_spec *spec, bool idempotent,
		 struct pgphase_error *err)
{
	const PgQuery__Node *st = spec->stmt;
	bool upd = st && st->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT;
	struct names_seen ns = { NULL, 0, false, false };
	const PgQuery__Node *where;
	char *what;
	int rc;

	if (st && st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT)
		return check_insert(spec, idempotent, err);
	if (!st || (!upd && st->node_case != PG_QUERY__NODE__NODE_DELETE_STMT))
		return refuse(spec, err, "only UPDATE, DELETE and INSERT ... SELECT statements can "
					 "run as a backfill");
	if (upd ? st->update_stmt->with_clause || st->update_stmt->n_returning_list
		: st->delete_stmt->with_clause || st->delete_stmt->n_returning_list) {
		refuse(spec, err, "cannot run a statement with WITH or RETURNING in batches");
		pgphase_error_hint(err, "drop the WITH/RETURNING clause, or put \"-- pgphase:as-is\" "
					"before it to run it once as written");
		return -1;
	}
	where = bf_where(st);
	if (upd) {
		ns.targets = st->update_stmt->target_list;
		ns.n_targets = st->update_stmt->n_target_list;
	}
	if (where)
		sql_tree_walk(&where->base, 0, find_set_column, &ns);
	if (ns.current_of)
		return refuse(spec, err, "cannot run UPDATE/DELETE ... WHERE CURRENT OF in batches");
	if (!upd || ns.found || !idempotent)
		return 0;
	what = xasprintf("UPDATE of \"%s\" cannot run in batches: its WHERE clause %s, so it "
			 "cannot tell rows already changed from pending ones and a rerun would "
			 "change rows twice", pgphase_backfill_source(st)->relname,
			 where ? "names no column the UPDATE sets" : "is missing");
	rc = refuse(spec, err, what);
	pgphase_error_hint(err, "add a condition on a column it sets, such as \"WHERE new_col IS "
				"NULL\" or \"WHERE col IS DISTINCT FROM <new value>\"; or put "
				"\"-- pgphase:as-is\" before it to run it once as written");
	free(what);
	return rc;
}

int pgphase_backfill_check(const struct pgphase_backfill_spec *spec, struct pgphase_error *err)
{
	return check(spec, true, err);
}

int pgphase_backfill_check_batchable(const struct pgphase_backfill_spec *spec,
				     struct pgphase_error *err)
{
	return check(spec, false, err);
}

/* ---- rendering --------------------------------------------------------------------- */

struct saved {
	void *addr;
	void *copy;
	size_t len;
};

struct graft {
	const PgQuery__Node *stmt;
	struct saved *saves;
	size_t n, cap;
};

static void save(struct graft *g, void *addr, size_t len)
{
	GROW(g->saves, g->cap, g->n + 1);
	g->saves[g->n].addr = addr;
	g->saves[g->n].copy = xmalloc(len);
	memcpy(g->saves[g->n].copy, addr, len);
	g->saves[g->n++].len = len;
}

static void restore(struct graft *g)
{
	while (g->n > 0) {
		struct saved *s = &g->saves[--g->n];

		memcpy(s->addr, s->copy, s->len);
		free(s->copy);
	}
	free(g->saves);
}

static bool is_placeholder(const PgQuery__RangeVar *rv, const char *name)
{
	return rv && rv->relname && strcmp(rv->relname, name) == 0 &&
	       (!rv->schemaname || !rv->schemaname[0]);
}

static bool is_placeholder_rel(const PgQuery__RangeVar *rv)
{
	return is_placeholder(rv, "pgphase_rel");
}

/*
 * Put the pieces of user, an INSERT ... SELECT pgphase_backfill_check() accepted — target
 * table, column list, ON CONFLICT, OVERRIDING, and its SELECT's target and FROM lists — into
 * the template INSERT ... SELECT ins (pointers into user, nothing copied).  The caller saves
 * and restores the template around it.
 */
static void graft_insert_pieces(PgQuery__InsertStmt *ins, const PgQuery__Node *user)
{
	const PgQuery__InsertStmt *u = user->insert_stmt;
	const PgQuery__SelectStmt *us = insert_select(user);
	PgQuery__SelectStmt *ts = ins->select_stmt->select_stmt;

	ins->relation = u->relation;
	ins->n_cols = u->n_cols;
	ins->cols = u->cols;
	ins->on_conflict_clause = u->on_conflict_clause;
	ins->override = u->override;
	ts->n_target_list = us->n_target_list;
	ts->target_list = us->target_list;
	ts->n_from_clause = us->n_from_clause;
	ts->from_clause = us->from_clause;
}

/*
 * The data change of an INSERT ... SELECT: "INSERT INTO pgphase_ins SELECT pgphase_tl FROM
 * pgphase_rel WHERE <template's conditions> [FOR ...] RETURNING 1" takes the user's target
 * table, column list, ON CONFLICT and OVERRIDING, and its SELECT the user's target list,
 * FROM list and ORDER BY; the template keeps its WHERE (bounds, pgphase_pred), locking
 * clause and RETURNING.
 */
static void graft_insert(struct graft *g, PgQuery__InsertStmt *ins)
{
	const PgQuery__SelectStmt *us = insert_select(g->stmt);
	PgQuery__SelectStmt *ts;

	if (!ins->select_stmt || ins->select_stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
		return;
	ts = ins->select_stmt->select_stmt;
	save(g, ins, sizeof(*ins));
	save(g, ts, sizeof(*ts));
	graft_insert_pieces(ins, g->stmt);
	ts->n_sort_clause = us->n_sort_clause;
	ts->sort_clause = us->sort_clause;
}

static enum sql_walk_next graft_one(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	struct graft *g = arg;
	const PgQuery__Node *st = g->stmt;
	bool upd = st->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT;

	if (is(m, &pg_query__update_stmt__descriptor)) {
		PgQuery__UpdateStmt *u = (PgQuery__UpdateStmt *)m;

		/* the data change: "UPDATE pgphase_rel SET pgphase_set = NULL" */
		if (upd && is_placeholder_rel(u->relation) && u->n_target_list == 1 &&
		    u->target_list[0]->res_target && u->target_list[0]->res_target->name &&
		    strcmp(u->target_list[0]->res_target->name, "pgphase_set") == 0) {
			save(g, u, sizeof(*u));
			u->n_target_list = st->update_stmt->n_target_list;
			u->target_list = st->update_stmt->target_list;
			u->n_from_clause = st->update_stmt->n_from_clause;
			u->from_clause = st->update_stmt->from_clause;
		}
	} else if (is(m, &pg_query__delete_stmt__descriptor)) {
		PgQuery__DeleteStmt *d = (PgQuery__DeleteStmt *)m;

		if (st->node_case == PG_QUERY__NODE__NODE_DELETE_STMT && is_placeholder_rel(d->relation)) {
			save(g, d, sizeof(*d));
			d->n_using_clause = st->delete_stmt->n_using_clause;
			d->using_clause = st->delete_stmt->using_clause;
		}
	} else if (is(m, &pg_query__insert_stmt__descriptor)) {
		PgQuery__InsertStmt *ins = (PgQuery__InsertStmt *)m;

		if (st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT &&
		    is_placeholder(ins->relation, "pgphase_ins"))
			graft_insert(g, ins);
	} else if (is(m, &pg_query__range_var__descriptor)) {
		PgQuery__RangeVar *rv = (PgQuery__RangeVar *)m;

		if (is_placeholder_rel(rv)) {
			save(g, rv, sizeof(*rv));
			*rv = *pgphase_backfill_source(st);
		}
		return SQL_WALK_SKIP;
	} else if (is(m, &pg_query__node__descriptor) && slot) {
		PgQuery__Node *n = (PgQuery__Node *)m;
		const char *name = n->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
					   n->column_ref->n_fields == 1
				   ? column_name(n->column_ref) : NULL;

		if (name && strcmp(name, "pgphase_pred") == 0 && bf_where(st)) {
			save(g, slot, sizeof(*slot));
			*slot = (ProtobufCMessage *)bf_where(st);
			return SQL_WALK_SKIP;
		}
	}
	return SQL_WALK_CONTINUE;
}

char *bf_render(const char *tmpl, const PgQuery__Node *stmt, struct pgphase_error *err)
{
	struct pgphase_sql sql;
	struct graft g = { stmt, NULL, 0, 0 };
	char *out;

	if (pgphase_sql_parse(&sql, tmpl, "<backfill template>", err) < 0)
		return NULL;
	if (sql.n != 1) {
		pgphase_sql_release(&sql);
		pgphase_error_set(err, PGPHASE_EXIT_FAILED, "backfill template is not one statement");
		return NULL;
	}
	sql_tree_walk(&sql.stmts[0].node->base, SQL_WALK_NODES, graft_one, &g);
	out = pgphase_node_deparse(sql.stmts[0].node, err);
	restore(&g);
	pgphase_sql_release(&sql);
	return out;
}
