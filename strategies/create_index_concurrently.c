/*
 * create-index-concurrently: CREATE [UNIQUE] INDEX on an existing table takes a SHARE lock
 * that blocks every write for the whole build.  Built CONCURRENTLY instead, outside any
 * transaction, with IF NOT EXISTS so a rerun after a crash is harmless; the executor then
 * checks pg_index.indisvalid and drops an INVALID leftover CONCURRENTLY and rebuilds it (a
 * bounded number of times).  An unnamed index gets the name PostgreSQL would choose
 * (ChooseIndexName: <table>_<columns>_idx, then _idx1, _idx2, ... while taken), because IF
 * NOT EXISTS needs a name; an explicit name taken by another object is refused at plan time
 * (psql would fail too), and the executor checks that the index IF NOT EXISTS found is this
 * one.
 *
 * Run as written instead: a partitioned table (CONCURRENTLY is impossible on the parent), and
 * a statement the deparser cannot reproduce exactly.
 */
#include <string.h>

#include "strategy.h"
#include "plan/plan_names.h"

static const char *const SQL_DROP_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS %s";

#define NAMEDATALEN 64

static bool names_modelled(const PgQuery__IndexStmt *ix);

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	return in->node->node_case == PG_QUERY__NODE__NODE_INDEX_STMT &&
	       !in->node->index_stmt->concurrent && in->node->index_stmt->relation &&
	       (in->node->index_stmt->idxname[0] || names_modelled(in->node->index_stmt)) &&
	       !plan_is_partitioned(ctx, in->node->index_stmt->relation) &&
	       sql_round_trips(ctx, in->node);
}

static const PgQuery__IndexElem *elem(const PgQuery__IndexStmt *ix, size_t i)
{
	return i < ix->n_index_params ? ix->index_params[i]->index_elem
				      : ix->index_including_params[i - ix->n_index_params]->index_elem;
}

/* The key columns as plan_names compares them: "" for an expression. */
static struct plan_name_want want_of(struct plan_ctx *ctx, const PgQuery__IndexStmt *ix)
{
	struct plan_name_want w = { ix->relation, 0, true, ix->unique, NULL, ix->n_index_params };
	const char **cols = arena_alloc(plan_arena(ctx), (ix->n_index_params + 1) * sizeof(*cols));

	for (size_t i = 0; i < ix->n_index_params; i++)
		cols[i] = elem(ix, i)->name && elem(ix, i)->name[0] ? elem(ix, i)->name : "";
	w.cols = cols;
	return w;
}

/*
 * PostgreSQL's FigureColnameInternal for an index expression (what FigureIndexColname
 * gives): the name and its strength (2 a real name, 1 a type's, 0 none: "expr").  -1 for
 * expressions whose name is not modelled here: the statement then runs as written.
 */
static int figure_base_colname(const PgQuery__Node *n, const char **name);

/* Casts and COLLATE clauses are looked through in a loop (a chain may be long): the
 * outermost cast names a weakly named expression. */
static int figure_colname(const PgQuery__Node *n, const char **name)
{
	const PgQuery__TypeCast *outer = NULL;
	int s;

	for (;;) {
		if (n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) {
			if (!outer)
				outer = n->type_cast;
			n = n->type_cast->arg;
		} else if (n->node_case == PG_QUERY__NODE__NODE_COLLATE_CLAUSE) {
			n = n->collate_clause->arg;
		} else {
			break;
		}
	}
	s = figure_base_colname(n, name);
	if (s < 0 || s > 1 || !outer)
		return s;
	*name = sql_str(outer->type_name->names[outer->type_name->n_names - 1]);
	return 1;
}

static int figure_base_colname(const PgQuery__Node *n, const char **name)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_COLUMN_REF: {
		const PgQuery__ColumnRef *cr = n->column_ref;

		*name = cr->n_fields ? sql_str(cr->fields[cr->n_fields - 1]) : NULL;
		return *name ? 2 : 0;
	}
	case PG_QUERY__NODE__NODE_FUNC_CALL:
		*name = sql_str(n->func_call->funcname[n->func_call->n_funcname - 1]);
		return *name ? 2 : 0;
	case PG_QUERY__NODE__NODE_CASE_EXPR:
		*name = "case";
		return 1;
	case PG_QUERY__NODE__NODE_COALESCE_EXPR:
		*name = "coalesce";
		return 2;
	case PG_QUERY__NODE__NODE_ROW_EXPR:
		*name = "row";
		return 2;
	case PG_QUERY__NODE__NODE_A_ARRAY_EXPR:
		*name = "array";
		return 2;
	case PG_QUERY__NODE__NODE_A_EXPR:
		if (n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF) {
			*name = "nullif";
			return 2;
		}
		return 0;
	case PG_QUERY__NODE__NODE_A_CONST:
	case PG_QUERY__NODE__NODE_BOOL_EXPR:
	case PG_QUERY__NODE__NODE_NULL_TEST:
	case PG_QUERY__NODE__NODE_BOOLEAN_TEST:
		return 0;
	default:
		return -1;
	}
}

/* An element's name in the index's default name (NULL: not modelled). */
static const char *elem_name(const PgQuery__IndexElem *e)
{
	const char *name = NULL;

	if (e->indexcolname && e->indexcolname[0])
		return e->indexcolname;
	if (e->name && e->name[0])
		return e->name;
	if (!e->expr || figure_colname(e->expr, &name) < 0)
		return NULL;
	return name ? name : "expr";
}

/* Can the default name be told without the server (every element's name modelled)? */
static bool names_modelled(const PgQuery__IndexStmt *ix)
{
	for (size_t i = 0; i < ix->n_index_params + ix->n_index_including_params; i++)
		if (!elem_name(elem(ix, i)))
			return false;
	return true;
}

/*
 * PostgreSQL's ChooseIndexColumnNames + ChooseIndexNameAddition: every column, INCLUDE ones
 * too, "expr" for an expression, a repeated name numbered (a, a1), joined by "_" and cut once
 * past NAMEDATALEN (makeObjectName shortens the rest).
 */
static const char *name_addition(struct plan_ctx *ctx, const PgQuery__IndexStmt *ix)
{
	size_t n = ix->n_index_params + ix->n_index_including_params;
	const char **used = arena_alloc(plan_arena(ctx), (n + 1) * sizeof(*used));
	const char *buf = "";

	for (size_t i = 0; i < n; i++) {
		const PgQuery__IndexElem *e = elem(ix, i);
		const char *orig = elem_name(e), *name = orig;

		for (int k = 1;; k++) {
			size_t j = 0;

			while (j < i && strcmp(used[j], name) != 0)
				j++;
			if (j == i)
				break;
			name = arena_printf(plan_arena(ctx), "%s%d", orig, k);
		}
		used[i] = name;
		buf = arena_printf(plan_arena(ctx), "%s%s%s", buf, i ? "_" : "", name);
		if (strlen(buf) >= NAMEDATALEN)
			break;
	}
	return buf[0] ? buf : NULL;
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__IndexStmt *orig = in->node->index_stmt;
	PgQuery__IndexStmt ix = *orig;
	PgQuery__Node node = *in->node;
	PgQuery__RangeVar idx_rv = *orig->relation;
	struct plan_name_want w = want_of(ctx, orig);
	char *name, *sql, *target, *undo = NULL;
	struct pgphase_step *st;

	if (orig->idxname[0]) {
		name = orig->idxname;
		if (plan_name_refuse_taken(ctx, in, &w, name, err) < 0)
			return -1;
	} else {
		name = plan_choose_name(ctx, &w, orig->relation->relname, name_addition(ctx, orig),
					"idx", false);
	}
	ix.concurrent = true;
	ix.if_not_exists = true;
	ix.idxname = name;
	node.index_stmt = &ix;
	sql = sql_deparse(ctx, &node, err);
	/* the index lives in its table's schema */
	idx_rv.relname = name;
	target = sql_rel(ctx, &idx_rv);
	if (sql)
		undo = sql_renderf(ctx, err, SQL_DROP_INDEX, target);
	if (!undo)
		return -1;
	st = plan_add(ctx, &strategy_create_index_concurrently, in, plan_phase(in, PGPHASE_PHASE_EXPAND),
		      PGPHASE_TXN_NONE, sql, undo);
	st->kind = PGPHASE_STEP_INDEX;
	st->retry_lock = true;
	st->target = target;
	return 0;
}

static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase(in, PGPHASE_PHASE_EXPAND);
}

const struct pgphase_strategy strategy_create_index_concurrently = {
	.name = "create-index-concurrently",
	.summary = "CREATE INDEX on an existing table: built CONCURRENTLY outside a transaction, "
		   "then checked for indisvalid (an INVALID leftover is dropped and rebuilt)",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
