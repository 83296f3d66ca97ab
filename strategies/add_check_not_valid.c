/*
 * add-check-not-valid: ADD CHECK scans the whole table under ACCESS EXCLUSIVE.  Added NOT
 * VALID in expand (a brief lock; new rows are checked from then on) and validated at the end
 * of backfill in its own transaction, which scans under SHARE UPDATE EXCLUSIVE.  An unnamed
 * check gets PostgreSQL's default name (<table>_<first column>_check).
 */
#include "strategy.h"

static const PgQuery__Constraint *check(const struct strategy_input *in)
{
	const PgQuery__AlterTableCmd *c =
		strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint);

	if (!c || !c->def || c->def->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
		return NULL;
	return c->def->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK ? c->def->constraint
										   : NULL;
}

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	const PgQuery__Constraint *c = check(in);

	(void)ctx;
	/* NO INHERIT checks are rare and cannot be validated separately on partitions */
	return c && !c->skip_validation && !c->is_no_inherit;
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__Constraint *c = check(in);
	const char *name = c->conname[0]
		? c->conname
		: sql_object_name(ctx, in->node->alter_table_stmt->relation->relname,
				  sql_first_column(&c->raw_expr->base), "check");

	return plan_constraint_not_valid(ctx, &strategy_add_check_not_valid, in, name, err);
}

/* last step: validate ends the backfill phase */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase_raised(in, PGPHASE_PHASE_BACKFILL);
}

const struct pgphase_strategy strategy_add_check_not_valid = {
	.name = "add-check-not-valid",
	.summary = "ADD CHECK: added NOT VALID in expand, VALIDATE CONSTRAINT in its own "
		   "transaction at the end of backfill",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
