/*
 * drop-index-concurrently: DROP INDEX takes ACCESS EXCLUSIVE on the table, and the old app
 * may still rely on the index.  Moved to contract and run CONCURRENTLY outside a
 * transaction, one index per statement (PostgreSQL allows only one with CONCURRENTLY), with
 * IF EXISTS so a rerun after a crash is harmless.  DROP INDEX ... CASCADE, and the index of
 * a partitioned table, cannot run CONCURRENTLY and are left to defer-destructive-to-contract.
 */
#include "strategy.h"
#include "plan/plan_names.h"

/* Is any index the statement drops a partitioned table's (online; offline: no)? */
static bool drops_partitioned(struct plan_ctx *ctx, const PgQuery__DropStmt *d)
{
	for (size_t i = 0; i < d->n_objects; i++) {
		const PgQuery__List *l = d->objects[i]->node_case == PG_QUERY__NODE__NODE_LIST
						 ? d->objects[i]->list : NULL;
		PgQuery__RangeVar rv = PG_QUERY__RANGE_VAR__INIT;

		if (!l || !l->n_items)
			continue;
		rv.relname = (char *)sql_str(l->items[l->n_items - 1]);
		rv.schemaname = (char *)(l->n_items > 1 ? sql_str(l->items[l->n_items - 2]) : "");
		if (rv.relname && rv.schemaname && plan_is_partitioned(ctx, &rv))
			return true;
	}
	return false;
}

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	const PgQuery__DropStmt *d;

	if (in->node->node_case != PG_QUERY__NODE__NODE_DROP_STMT)
		return false;
	d = in->node->drop_stmt;
	return d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX && !d->concurrent &&
	       d->behavior != PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE && !drops_partitioned(ctx, d);
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__DropStmt *orig = in->node->drop_stmt;

	for (size_t i = 0; i < orig->n_objects; i++) {
		PgQuery__DropStmt d = *orig;
		PgQuery__Node node = *in->node;
		struct pgphase_step *st;
		char *sql;

		d.n_objects = 1;
		d.objects = &orig->objects[i];
		d.concurrent = true;
		d.missing_ok = true;
		node.drop_stmt = &d;
		sql = sql_deparse(ctx, &node, err);
		if (!sql)
			return -1;
		st = plan_add(ctx, &strategy_drop_index_concurrently, in,
			      plan_phase(in, PGPHASE_PHASE_CONTRACT), PGPHASE_TXN_NONE, sql, NULL);
		st->retry_lock = true;
	}
	return 0;
}

static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase(in, PGPHASE_PHASE_CONTRACT);
}

const struct pgphase_strategy strategy_drop_index_concurrently = {
	.name = "drop-index-concurrently",
	.summary = "DROP INDEX: moved to contract and run CONCURRENTLY, one index at a time",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
