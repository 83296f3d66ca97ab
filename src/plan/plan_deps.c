/*
 * Ordering check for a finished plan.  Phases reorder statements: a statement may now run
 * before an object it uses exists, e.g. a CONTRACT statement using a table that a later
 * CONTRACT statement creates, or an unmarked statement (expand) using a view that is only
 * created under -- CONTRACT.  Each statement's creations (tables, views, indexes, sequences,
 * rename targets) and references (every relation named anywhere in its tree) are compared
 * in execution order: (first phase the statement runs in, statement order).
 *
 * Names are compared without schema when either side has none; a false alarm is possible
 * only when two schemas hold objects of the same name, and the hint explains the fix.
 */
#include <stdlib.h>
#include <string.h>

#include "plan/plan_int.h"
#include "base/util.h"

/* A list of names in the plan's arena; emptied (n = 0) to be filled again. */
struct names {
	struct plan_ctx *ctx;
	const char **v;
	size_t n, cap;
};

static void add_name(struct names *ns, const char *s)
{
	if (!s || !s[0])
		return;
	ns->v = plan_grow(ns->ctx, ns->v, &ns->cap, ns->n + 1, sizeof(*ns->v));
	ns->v[ns->n++] = s;
}

static bool has_name(const struct names *ns, const char *s)
{
	for (size_t i = 0; i < ns->n; i++)
		if (strcmp(ns->v[i], s) == 0)
			return true;
	return false;
}

static void created_by(const PgQuery__Node *n, struct names *out)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		add_name(out, n->create_stmt->relation->relname);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		if (n->create_table_as_stmt->into && n->create_table_as_stmt->into->rel)
			add_name(out, n->create_table_as_stmt->into->rel->relname);
		break;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		add_name(out, n->view_stmt->view->relname);
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		add_name(out, n->index_stmt->idxname);
		break;
	case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
		add_name(out, n->create_seq_stmt->sequence->relname);
		break;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		if (n->rename_stmt->rename_type != PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN)
			add_name(out, n->rename_stmt->newname);
		break;
	default:
		break;
	}
}

static enum sql_walk_next ref_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	(void)slot;
	if (m->descriptor == &pg_query__range_var__descriptor)
		add_name(arg, ((const PgQuery__RangeVar *)m)->relname);
	return SQL_WALK_CONTINUE;
}

static void referenced_by(const PgQuery__Node *n, struct names *out)
{
	sql_tree_walk(&n->base, 0, ref_visit, out);
	if (n->node_case == PG_QUERY__NODE__NODE_DROP_STMT) {
		/* DROP names its objects as lists of strings: the last one is the object */
		const PgQuery__DropStmt *d = n->drop_stmt;

		for (size_t i = 0; i < d->n_objects; i++)
			if (d->objects[i]->node_case == PG_QUERY__NODE__NODE_LIST &&
			    d->objects[i]->list->n_items > 0)
				add_name(out, sql_str(d->objects[i]->list->items[d->objects[i]->list->n_items - 1]));
	}
}

/* First phase a statement's steps run in (NONE when it has no step). */
static enum pgphase_phase first_phase(const struct pgphase_plan *plan, size_t origin)
{
	enum pgphase_phase p = PGPHASE_PHASE_NONE;

	for (size_t i = 0; i < plan->n; i++)
		if (plan->steps[i].origin == origin &&
		    (p == PGPHASE_PHASE_NONE || plan->steps[i].phase < p))
			p = plan->steps[i].phase;
	return p;
}

static bool runs_before(enum pgphase_phase pa, size_t a, enum pgphase_phase pb, size_t b)
{
	return pa < pb || (pa == pb && a < b);
}

/* Last phase a statement's steps run in. */
static enum pgphase_phase last_phase(const struct pgphase_plan *plan, size_t origin)
{
	enum pgphase_phase p = PGPHASE_PHASE_NONE;

	for (size_t i = 0; i < plan->n; i++)
		if (plan->steps[i].origin == origin && plan->steps[i].phase > p)
			p = plan->steps[i].phase;
	return p;
}

/*
 * A table renamed in expand (rename-table-via-view) is a view under its old name from then
 * on: statements of the same migration that still use the old name after that point would
 * work on the view (no defaults, no ALTER TABLE).
 */
static int check_renamed_tables(struct plan_ctx *ctx, struct pgphase_error *err)
{
	const struct pgphase_sql *sql = &ctx->m->up.sql;
	struct names refs = { ctx, NULL, 0, 0 };

	for (size_t i = 0; i < sql->n; i++) {
		const PgQuery__Node *n = sql->stmts[i].node;
		const char *old;

		if (n->node_case != PG_QUERY__NODE__NODE_RENAME_STMT ||
		    n->rename_stmt->rename_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
		    !n->rename_stmt->relation || last_phase(ctx->plan, i) == PGPHASE_PHASE_EXPAND)
			continue; /* run as written: no view is left behind */
		old = n->rename_stmt->relation->relname;
		for (size_t j = 0; j < sql->n; j++) {
			if (j == i)
				continue;
			refs.n = 0;
			referenced_by(sql->stmts[j].node, &refs);
			if (!has_name(&refs, old) ||
			    (j < i && last_phase(ctx->plan, j) == PGPHASE_PHASE_EXPAND))
				continue;
			pgphase_error_at(err, PGPHASE_EXIT_USAGE, "plan-order", ctx->m->up.file,
					 sql->stmts[j].line, sql->stmts[j].column,
					 "statement uses \"%s\", which line %d renames to \"%s\" (leaving a "
					 "view under the old name) before this statement runs", old,
					 sql->stmts[i].line, n->rename_stmt->newname);
			pgphase_error_hint(err, "refer to \"%s\", or rename the table in a migration "
						"of its own", n->rename_stmt->newname);
			return -1;
		}
	}
	return 0;
}

int plan_check_dependencies(struct plan_ctx *ctx, struct pgphase_error *err)
{
	const struct pgphase_sql *sql = &ctx->m->up.sql;
	size_t n = sql->n;
	struct names *created = arena_alloc(ctx->arena, (n ? n : 1) * sizeof(*created));
	enum pgphase_phase *phase = arena_alloc(ctx->arena, (n ? n : 1) * sizeof(*phase));
	struct names refs = { ctx, NULL, 0, 0 };
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		created[i] = (struct names){ ctx, NULL, 0, 0 };
		created_by(sql->stmts[i].node, &created[i]);
		phase[i] = first_phase(ctx->plan, i);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		refs.n = 0;
		referenced_by(sql->stmts[i].node, &refs);
		for (size_t r = 0; r < refs.n && rc == 0; r++) {
			const char *name = refs.v[r];
			bool earlier = false;
			size_t later = n;

			if (has_name(&created[i], name))
				continue;
			for (size_t j = 0; j < n; j++) {
				if (j == i || !has_name(&created[j], name))
					continue;
				if (runs_before(phase[j], j, phase[i], i))
					earlier = true;
				else if (later == n)
					later = j;
			}
			if (earlier || later == n)
				continue;
			rc = pgphase_error_at(err, PGPHASE_EXIT_USAGE, "plan-order", ctx->m->up.file,
					      sql->stmts[i].line, sql->stmts[i].column,
					      "statement runs in %s but depends on \"%s\", which this "
					      "migration creates only later (line %d, %s)",
					      pgphase_phase_name(phase[i]), name, sql->stmts[later].line,
					      pgphase_phase_name(phase[later]));
			pgphase_error_hint(err, "create \"%s\" in an earlier phase (e.g. under "
						"\"-- EXPAND\"), or move this statement after it", name);
		}
	}
	return rc < 0 ? rc : check_renamed_tables(ctx, err);
}
