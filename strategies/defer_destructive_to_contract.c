/*
 * defer-destructive-to-contract: DROP TABLE / VIEW / COLUMN / CONSTRAINT / ..., and
 * TRUNCATE, break the app version that is still running and lose data.  They run as written
 * in contract, when no old app is left (an explicit phase marker still wins).  DROP INDEX has
 * its own strategy (drop-index-concurrently) unless it CASCADEs.
 */
#include "strategy.h"

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	(void)ctx;
	switch (in->node->node_case) {
	case PG_QUERY__NODE__NODE_DROP_STMT:
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
		return true;
	default:
		return strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn) ||
		       strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint);
	}
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	char *sql = in->node == in->stmt->node ? arena_strdup(plan_arena(ctx), in->stmt->sql)
					       : sql_deparse(ctx, in->node, err);
	bool none = in->node == in->stmt->node && in->stmt->no_transaction;

	if (!sql)
		return -1;
	plan_add(ctx, &strategy_defer_destructive_to_contract, in,
		 plan_phase(in, PGPHASE_PHASE_CONTRACT), none ? PGPHASE_TXN_NONE : PGPHASE_TXN_GROUP,
		 sql, NULL);
	return 0;
}

static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase(in, PGPHASE_PHASE_CONTRACT);
}

const struct pgphase_strategy strategy_defer_destructive_to_contract = {
	.name = "defer-destructive-to-contract",
	.summary = "DROP and TRUNCATE: run as written in contract, once no old app is left",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
