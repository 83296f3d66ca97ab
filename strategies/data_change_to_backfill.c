/*
 * data-change-to-backfill: an UPDATE, DELETE or INSERT ... SELECT over a whole table holds
 * row locks (or one long transaction) for its whole run, bloats, and lags replicas.  It runs
 * in backfill through the batched engine (src/backfill/; plan_backfill.c hands it the spec):
 * batches walk the table's key in order — for INSERT ... SELECT the key of its source table,
 * the SELECT's first FROM item — and each batch commits with its cursor, so a rerun after a
 * crash continues where it stopped.  An INSERT ... SELECT that reads no table (FROM
 * generate_series(...), VALUES) runs in backfill as written, in its own transaction.  A table
 * without a usable key, or an INSERT that cannot tell rows already copied, is an error at
 * plan time.
 */
#include "pgphase/backfill.h"
#include "strategy.h"

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	(void)ctx;
	switch (in->node->node_case) {
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		return true;
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		return in->node->insert_stmt->select_stmt &&
		       in->node->insert_stmt->select_stmt->node_case == PG_QUERY__NODE__NODE_SELECT_STMT &&
		       !in->node->insert_stmt->select_stmt->select_stmt->n_values_lists;
	default:
		return false;
	}
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	if (in->node->node_case == PG_QUERY__NODE__NODE_INSERT_STMT && !pgphase_backfill_source(in->node)) {
		plan_add(ctx, &strategy_data_change_to_backfill, in,
			 plan_phase(in, PGPHASE_PHASE_BACKFILL), PGPHASE_TXN_OWN,
			 arena_strdup(plan_arena(ctx), in->stmt->sql), NULL);
		return 0;
	}
	return plan_backfill(ctx, &strategy_data_change_to_backfill, in, in->node, err);
}

static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase(in, PGPHASE_PHASE_BACKFILL);
}

const struct pgphase_strategy strategy_data_change_to_backfill = {
	.name = "data-change-to-backfill",
	.summary = "UPDATE / DELETE / INSERT ... SELECT: backfill phase, in key-ordered batches "
		   "(of the source table's key for INSERT) that each commit with their cursor",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
