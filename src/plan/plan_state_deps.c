/*
 * What the replayed statements make depend on the columns of tables the database already
 * has: an index, a view or materialized view, a constraint of the table or a foreign key
 * referencing it, a trigger's column list or WHEN clause, a policy, extended statistics, a
 * rule, a column comment or column privilege, column storage settings.  The rename and
 * type-change strategies carry over to the new column only what the catalog shows
 * (src/plan/plan_carry.c); an object an earlier statement of the run creates is not there
 * yet when the run is planned, so the strategy would silently lose it.  The model remembers
 * the column names such objects use (every name an expression or query mentions, for
 * simplicity: a superset) so plan_carry_blocker can refuse the rewrite and run the statement
 * as written, which is exact.
 *
 * Tables the migrations create are not tracked here: the carry refuses them anyway.  Reads
 * only the statement, never the catalog.
 */
#include <string.h>

#include "plan/plan_state.h"
#include "base/util.h"

/* The marker stored for "every column" (a star, an expression the walk cannot read). */
#define ALL_COLUMNS "*"

/* Record that what depends on column (NULL: every column) of the relation rv names. */
static void depend(struct plan_state *st, const PgQuery__RangeVar *rv, const char *column,
		   const char *what)
{
	struct st_rel *r;
	bool tombstone;

	if (!rv || !rv->relname)
		return;
	r = st_rel_find(st, rv->schemaname, rv->relname, &tombstone);
	if ((r && r->pub.created) || tombstone)
		return; /* the carry refuses created tables anyway; a dropped name is no table */
	if (!r)
		r = st_rel_for_change(st, rv);
	st_map_put(st->arena, &r->deps, column ? column : ALL_COLUMNS, NULL, (void *)what);
}

/* Every column name (the last field of a ColumnRef) and relation a tree mentions. */
struct refs {
	struct plan_state *st;
	const char **cols;
	size_t n_cols, cap_cols;
	const PgQuery__RangeVar **rels;
	size_t n_rels, cap_rels;
	bool star;
};

static void push(struct plan_state *st, void *vp, size_t *n, size_t *cap, const void *x)
{
	const void ***v = vp;

	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		const void **nv = arena_alloc(st->arena, c * sizeof(*nv));

		if (*n)
			memcpy(nv, *v, *n * sizeof(*nv));
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = x;
}

static enum sql_walk_next refs_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	struct refs *f = arg;

	(void)slot;
	if (m->descriptor == &pg_query__column_ref__descriptor) {
		const PgQuery__ColumnRef *c = (const PgQuery__ColumnRef *)m;
		const PgQuery__Node *last = c->n_fields ? c->fields[c->n_fields - 1] : NULL;

		if (last && last->node_case == PG_QUERY__NODE__NODE_A_STAR)
			f->star = true;
		else if (last && sql_str(last))
			push(f->st, &f->cols, &f->n_cols, &f->cap_cols, sql_str(last));
		return SQL_WALK_SKIP;
	}
	if (m->descriptor == &pg_query__range_var__descriptor)
		push(f->st, &f->rels, &f->n_rels, &f->cap_rels, m);
	return SQL_WALK_CONTINUE;
}

static void refs_of(struct refs *f, const PgQuery__Node *n)
{
	if (n)
		sql_tree_walk(&n->base, 0, refs_visit, f);
}

/* Every column the tree names depends on rv (a star: all of them). */
static void depend_refs(struct plan_state *st, const PgQuery__RangeVar *rv, const PgQuery__Node *n,
			const char *what)
{
	struct refs f = { .st = st };

	refs_of(&f, n);
	if (f.star)
		depend(st, rv, NULL, what);
	for (size_t i = 0; i < f.n_cols; i++)
		depend(st, rv, f.cols[i], what);
}

/* A view's query: every relation it reads, on every column name it mentions. */
static void depend_query(struct plan_state *st, const PgQuery__Node *q, const char *what)
{
	struct refs f = { .st = st };

	refs_of(&f, q);
	for (size_t r = 0; r < f.n_rels; r++) {
		if (f.star)
			depend(st, f.rels[r], NULL, what);
		for (size_t i = 0; i < f.n_cols; i++)
			depend(st, f.rels[r], f.cols[i], what);
	}
}

/* Plain column names of a list of String nodes; an empty list: every column. */
static void depend_names(struct plan_state *st, const PgQuery__RangeVar *rv,
			 PgQuery__Node *const *v, size_t n, const char *what)
{
	if (!n)
		depend(st, rv, NULL, what);
	for (size_t i = 0; i < n; i++)
		depend(st, rv, sql_str(v[i]), what);
}

/* A constraint on rv (table or column constraint; column: the column's own, or NULL). */
static void depend_constraint(struct plan_state *st, const PgQuery__RangeVar *rv,
			      const PgQuery__Constraint *c, const char *column)
{
	if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN && c->pktable)
		depend_names(st, c->pktable, c->pk_attrs, c->n_pk_attrs,
			     "a foreign key an earlier statement adds");
	if (column)
		return; /* the column is being added: nothing of the catalog's */
	switch (c->contype) {
	case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
	case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
		depend_names(st, rv, c->keys, c->n_keys, "a constraint an earlier statement adds");
		break;
	case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
		depend_names(st, rv, c->fk_attrs, c->n_fk_attrs,
			     "a constraint an earlier statement adds");
		break;
	case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
		depend_refs(st, rv, c->raw_expr, "a constraint an earlier statement adds");
		break;
	case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION:
		depend(st, rv, NULL, "a constraint an earlier statement adds");
		break;
	default:
		break;
	}
}

static void deps_alter(struct plan_state *st, const PgQuery__AlterTableStmt *at)
{
	for (size_t i = 0; at->relation && i < at->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = at->cmds[i]->node_case ==
							  PG_QUERY__NODE__NODE_ALTER_TABLE_CMD
						  ? at->cmds[i]->alter_table_cmd : NULL;

		if (!c)
			continue;
		switch (c->subtype) {
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
			if (c->def && c->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
				depend_constraint(st, at->relation, c->def->constraint, NULL);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
			for (size_t k = 0; c->def && c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF &&
					   k < c->def->column_def->n_constraints; k++)
				if (c->def->column_def->constraints[k]->node_case ==
				    PG_QUERY__NODE__NODE_CONSTRAINT)
					depend_constraint(st, at->relation,
							  c->def->column_def->constraints[k]->constraint,
							  c->def->column_def->colname);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStatistics:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStorage:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_SetCompression:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_SetOptions:
		case PG_QUERY__ALTER_TABLE_TYPE__AT_ResetOptions:
			if (c->name && c->name[0])
				depend(st, at->relation, c->name, "a column setting an earlier "
								  "statement changes");
			break;
		default:
			break;
		}
	}
}

/* CREATE TABLE: its foreign keys reference other tables' columns. */
static void deps_create(struct plan_state *st, const PgQuery__CreateStmt *cs)
{
	for (size_t i = 0; i < cs->n_table_elts; i++) {
		const PgQuery__Node *e = cs->table_elts[i];

		if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			depend_constraint(st, cs->relation, e->constraint, "");
		for (size_t k = 0; e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF &&
				   k < e->column_def->n_constraints; k++)
			if (e->column_def->constraints[k]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
				depend_constraint(st, cs->relation,
						  e->column_def->constraints[k]->constraint,
						  e->column_def->colname);
	}
	for (size_t i = 0; i < cs->n_constraints; i++)
		if (cs->constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			depend_constraint(st, cs->relation, cs->constraints[i]->constraint, "");
}

/* COMMENT ON COLUMN [schema.]table.column. */
static void deps_comment(struct plan_state *st, const PgQuery__CommentStmt *c)
{
	const PgQuery__List *l;
	PgQuery__RangeVar rv = PG_QUERY__RANGE_VAR__INIT;

	if (c->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN || !c->object ||
	    c->object->node_case != PG_QUERY__NODE__NODE_LIST || c->object->list->n_items < 2)
		return;
	l = c->object->list;
	rv.relname = (char *)sql_str(l->items[l->n_items - 2]);
	rv.schemaname = (char *)(l->n_items > 2 ? sql_str(l->items[l->n_items - 3]) : "");
	if (rv.relname && rv.schemaname)
		depend(st, &rv, sql_str(l->items[l->n_items - 1]), "a comment an earlier statement "
								    "sets");
}

/* GRANT / REVOKE of column privileges on tables. */
static void deps_grant(struct plan_state *st, const PgQuery__GrantStmt *g)
{
	if (g->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
	    g->targtype != PG_QUERY__GRANT_TARGET_TYPE__ACL_TARGET_OBJECT)
		return;
	for (size_t p = 0; p < g->n_privileges; p++) {
		const PgQuery__Node *ap = g->privileges[p];

		if (ap->node_case != PG_QUERY__NODE__NODE_ACCESS_PRIV || !ap->access_priv->n_cols)
			continue;
		for (size_t o = 0; o < g->n_objects; o++)
			if (g->objects[o]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
				depend_names(st, g->objects[o]->range_var, ap->access_priv->cols,
					     ap->access_priv->n_cols,
					     "a column privilege an earlier statement changes");
	}
}

void st_apply_deps(struct plan_state *st, const PgQuery__Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_INDEX_STMT: {
		const PgQuery__IndexStmt *is = n->index_stmt;
		const char *what = "an index an earlier statement creates";

		for (size_t i = 0; i < is->n_index_params; i++)
			depend_refs(st, is->relation, is->index_params[i], what);
		for (size_t i = 0; i < is->n_index_params; i++)
			if (is->index_params[i]->node_case == PG_QUERY__NODE__NODE_INDEX_ELEM)
				depend(st, is->relation, is->index_params[i]->index_elem->name, what);
		for (size_t i = 0; i < is->n_index_including_params; i++)
			if (is->index_including_params[i]->node_case == PG_QUERY__NODE__NODE_INDEX_ELEM)
				depend(st, is->relation,
				       is->index_including_params[i]->index_elem->name, what);
		depend_refs(st, is->relation, is->where_clause, what);
		break;
	}
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		depend_query(st, n->view_stmt->query, "a view an earlier statement creates");
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		if (n->create_table_as_stmt->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW)
			depend_query(st, n->create_table_as_stmt->query,
				     "a materialized view an earlier statement creates");
		break;
	case PG_QUERY__NODE__NODE_RULE_STMT:
		depend(st, n->rule_stmt->relation, NULL, "a rule an earlier statement creates");
		break;
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT: {
		const PgQuery__CreateTrigStmt *t = n->create_trig_stmt;

		for (size_t i = 0; i < t->n_columns; i++)
			depend(st, t->relation, sql_str(t->columns[i]),
			       "a trigger an earlier statement creates");
		depend_refs(st, t->relation, t->when_clause, "a trigger an earlier statement creates");
		break;
	}
	case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT:
	case PG_QUERY__NODE__NODE_ALTER_POLICY_STMT: {
		bool create = n->node_case == PG_QUERY__NODE__NODE_CREATE_POLICY_STMT;
		const PgQuery__RangeVar *rv = create ? n->create_policy_stmt->table
						     : n->alter_policy_stmt->table;

		depend_refs(st, rv, create ? n->create_policy_stmt->qual : n->alter_policy_stmt->qual,
			    "a policy an earlier statement creates");
		depend_refs(st, rv, create ? n->create_policy_stmt->with_check
					   : n->alter_policy_stmt->with_check,
			    "a policy an earlier statement creates");
		break;
	}
	case PG_QUERY__NODE__NODE_CREATE_STATS_STMT:
		for (size_t r = 0; r < n->create_stats_stmt->n_relations; r++)
			if (n->create_stats_stmt->relations[r]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
				depend(st, n->create_stats_stmt->relations[r]->range_var, NULL,
				       "statistics an earlier statement creates");
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		deps_alter(st, n->alter_table_stmt);
		break;
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		deps_create(st, n->create_stmt);
		break;
	case PG_QUERY__NODE__NODE_COMMENT_STMT:
		deps_comment(st, n->comment_stmt);
		break;
	case PG_QUERY__NODE__NODE_GRANT_STMT:
		deps_grant(st, n->grant_stmt);
		break;
	default:
		break;
	}
}

const char *plan_state_dependent(const struct plan_state_rel *rel, const char *column,
				 const char *catalog_column)
{
	const struct st_rel *r = (const struct st_rel *)rel; /* pub is the first member */
	struct st_ent *e;

	if (!rel || rel->gone || rel->created)
		return NULL;
	if ((e = st_map_find(&r->deps, ALL_COLUMNS, NULL, NULL)) ||
	    (column && (e = st_map_find(&r->deps, column, NULL, NULL))) ||
	    (catalog_column && (e = st_map_find(&r->deps, catalog_column, NULL, NULL))))
		return e->val;
	return NULL;
}
