/*
 * create-index-concurrently: CREATE [UNIQUE] INDEX on an existing table takes a SHARE lock
 * that blocks every write for the whole build.  Built CONCURRENTLY instead, outside any
 * transaction, with IF NOT EXISTS so a rerun after a crash is harmless; the executor then
 * checks pg_index.indisvalid and drops an INVALID leftover CONCURRENTLY and rebuilds it (a
 * bounded number of times).  An unnamed index gets PostgreSQL's own default name, because
 * IF NOT EXISTS needs a name.
 */
#include "strategy.h"

static const char *const SQL_DROP_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS %s";

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	(void)ctx;
	return in->node->node_case == PG_QUERY__NODE__NODE_INDEX_STMT &&
	       !in->node->index_stmt->concurrent;
}

/* PostgreSQL's ChooseIndexName: <table>_<col>[_<col>...]_idx, "expr" for expressions. */
static char *default_name(struct plan_ctx *ctx, const PgQuery__IndexStmt *ix)
{
	const char *cols = "";

	for (size_t i = 0; i < ix->n_index_params; i++) {
		const PgQuery__IndexElem *e = ix->index_params[i]->index_elem;
		const char *c = e->name && e->name[0] ? e->name : "expr";

		cols = arena_printf(plan_arena(ctx), "%s%s%s", cols, i ? "_" : "", c);
	}
	return sql_object_name(ctx, ix->relation->relname, cols[0] ? cols : NULL, "idx");
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__IndexStmt *orig = in->node->index_stmt;
	PgQuery__IndexStmt ix = *orig;
	PgQuery__Node node = *in->node;
	PgQuery__RangeVar idx_rv = *orig->relation;
	char *name = orig->idxname[0] ? orig->idxname : default_name(ctx, orig);
	char *sql, *target, *undo = NULL;
	struct pgphase_step *st;

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
