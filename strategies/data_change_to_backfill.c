/*
 * data-change-to-backfill: an UPDATE, DELETE or INSERT ... SELECT over a whole table holds
 * row locks (or one long transaction) for its whole run, bloats, and lags replicas.  It runs
 * in backfill through the batched engine (src/backfill/; plan_backfill.c hands it the spec):
 * batches walk the table's key in order — for INSERT ... SELECT the key of its source table,
 * the SELECT's first FROM item — and each batch commits with its cursor, so a rerun after a
 * crash continues where it stopped.  That cursor makes every key range exactly-once, so the
 * statement need not be idempotent (pgphase_backfill_check_batchable).  An INSERT ... SELECT
 * that reads no table (FROM generate_series(...), VALUES) runs in backfill as written, in its
 * own transaction.
 *
 * What the engine cannot run exactly once — no usable key, WITH or RETURNING, an INSERT whose
 * SELECT aggregates or reads its own target, a temporary table of the migration (it exists
 * only in the migration's own session, not in the backfill's) — runs as written in its place
 * (plan_as_written_because), like psql would run it; with strict it is refused.
 */
#include <string.h>

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

/* The engine's refusal, without its "file:line:col: " (the step says where). */
static const char *refusal(struct plan_ctx *ctx, const struct pgphase_error *e)
{
	const char *msg = e->message ? e->message : "cannot run in batches";
	char prefix[64];
	int n = snprintf(prefix, sizeof(prefix), ":%d:%d: ", e->line, e->column);
	const char *at = e->file && n > 0 ? strstr(msg, prefix) : NULL;

	return arena_printf(plan_arena(ctx), "not batched: %s", at ? at + n : msg);
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	const char *why;
	size_t first;
	bool offline;

	if (in->node->node_case == PG_QUERY__NODE__NODE_INSERT_STMT && !pgphase_backfill_source(in->node)) {
		plan_add(ctx, &strategy_data_change_to_backfill, in,
			 plan_phase(in, PGPHASE_PHASE_BACKFILL), PGPHASE_TXN_OWN,
			 arena_strdup(plan_arena(ctx), in->stmt->sql), NULL);
		return 0;
	}
	if (plan_backfill(ctx, &strategy_data_change_to_backfill, in, in->node, &e) == 0)
		return 0;
	if (e.code != PGPHASE_EXIT_USAGE) {
		pgphase_error_move(err, &e);
		return -1;
	}
	why = refusal(ctx, &e);
	offline = !plan_options(ctx)->session && e.kind && strcmp(e.kind, "backfill-key") == 0;
	pgphase_error_release(&e);
	first = plan_step_count(ctx);
	if (plan_as_written_because(ctx, in, why, err) < 0)
		return -1;
	plan_mark_offline(ctx, first, offline);
	return 0;
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
