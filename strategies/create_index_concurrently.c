/*
 * create-index-concurrently: CREATE [UNIQUE] INDEX on an existing table takes a SHARE lock
 * that blocks every write for the whole build.  Built CONCURRENTLY instead, outside any
 * transaction, with IF NOT EXISTS so a rerun after a crash is harmless; the executor then
 * checks pg_index.indisvalid and drops an INVALID leftover CONCURRENTLY and rebuilds it (a
 * bounded number of times).  An unnamed index gets PostgreSQL's own default name, because
 * IF NOT EXISTS needs a name.
 */
#include <stdlib.h>
#include <string.h>

#include "strategy.h"
#include "base/util.h"

static const char *const SQL_DROP_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS %s";

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	(void)ctx;
	return in->node->node_case == PG_QUERY__NODE__NODE_INDEX_STMT &&
	       !in->node->index_stmt->concurrent;
}

/* PostgreSQL's ChooseIndexName: <table>_<col>[_<col>...]_idx, "expr" for expressions. */
static char *default_name(const PgQuery__IndexStmt *ix)
{
	struct sbuf cols = SBUF_INIT;
	char *name;

	for (size_t i = 0; i < ix->n_index_params; i++) {
		const PgQuery__IndexElem *e = ix->index_params[i]->index_elem;
		const char *c = e->name && e->name[0] ? e->name : "expr";

		sbuf_addf(&cols, "%s%s", i ? "_" : "", c);
	}
	name = sql_object_name(ix->relation->relname, cols.len ? cols.buf : NULL, "idx");
	sbuf_release(&cols);
	return name;
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__IndexStmt *orig = in->node->index_stmt;
	PgQuery__IndexStmt ix = *orig;
	PgQuery__Node node = *in->node;
	PgQuery__RangeVar idx_rv = *orig->relation;
	char *name = orig->idxname[0] ? xstrdup(orig->idxname) : default_name(orig);
	char *sql, *target, *undo = NULL;
	struct pgphase_step *st;

	ix.concurrent = true;
	ix.if_not_exists = true;
	ix.idxname = name;
	node.index_stmt = &ix;
	sql = sql_deparse(&node, err);
	/* the index lives in its table's schema */
	idx_rv.relname = name;
	target = sql_rel(&idx_rv);
	if (sql)
		undo = sql_renderf(err, SQL_DROP_INDEX, target);
	free(name);
	if (!undo) {
		free(sql);
		free(target);
		return -1;
	}
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
