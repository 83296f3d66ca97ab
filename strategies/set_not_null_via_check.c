/*
 * set-not-null-via-check: SET NOT NULL scans the whole table under ACCESS EXCLUSIVE.
 * Instead: expand adds CHECK (c IS NOT NULL) NOT VALID; the end of backfill counts NULLs
 * (a clear error with the count) and validates the check under SHARE UPDATE EXCLUSIVE;
 * contract runs SET NOT NULL, which on PostgreSQL >= 12 uses the valid check instead of
 * scanning, and drops the check.  Under an explicit -- CONTRACT marker everything runs in
 * contract, the NULL count first.
 */
#include "strategy.h"

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	(void)ctx;
	return strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull) != NULL;
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__AlterTableCmd *c =
		strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull);
	bool in_contract = plan_phase(in, PGPHASE_PHASE_EXPAND) == PGPHASE_PHASE_CONTRACT;

	return plan_not_null_steps(ctx, &strategy_set_not_null_via_check, in,
				   in->node->alter_table_stmt->relation, c->name, !in_contract, err);
}

/* last step: SET NOT NULL */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase_raised(in, PGPHASE_PHASE_CONTRACT);
}

const struct pgphase_strategy strategy_set_not_null_via_check = {
	.name = "set-not-null-via-check",
	.summary = "SET NOT NULL: CHECK (c IS NOT NULL) NOT VALID in expand, NULL count and "
		   "VALIDATE at the end of backfill, SET NOT NULL without a scan in contract",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
