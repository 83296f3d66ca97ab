/*
 * add-foreign-key-not-valid: ADD FOREIGN KEY scans the whole table while holding a lock that
 * blocks writes on both tables.  Added NOT VALID in expand (a brief lock; new rows are
 * checked from then on) and validated at the end of backfill in its own transaction, which
 * scans under SHARE UPDATE EXCLUSIVE and lets the application write.  An unnamed key gets
 * PostgreSQL's default name, so VALIDATE can name it.
 */
#include "strategy.h"

static const PgQuery__Constraint *fk(const struct strategy_input *in)
{
	const PgQuery__AlterTableCmd *c =
		strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint);

	if (!c || !c->def || c->def->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
		return NULL;
	return c->def->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN ? c->def->constraint
										     : NULL;
}

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	const PgQuery__Constraint *c = fk(in);

	(void)ctx;
	return c && !c->skip_validation;
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__Constraint *c = fk(in);
	const char *cols = NULL;

	/* ChooseForeignKeyConstraintNameAddition: the referencing columns joined by "_" */
	for (size_t i = 0; i < c->n_fk_attrs; i++)
		cols = arena_printf(plan_arena(ctx), "%s%s%s", cols ? cols : "", i ? "_" : "",
				    sql_str(c->fk_attrs[i]));
	return plan_constraint_not_valid(
		ctx, &strategy_add_foreign_key_not_valid, in,
		c->conname[0] ? c->conname
			      : sql_object_name(ctx, in->node->alter_table_stmt->relation->relname,
						cols && cols[0] ? cols : NULL, "fkey"),
		err);
}

/* last step: validate ends the backfill phase */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase_raised(in, PGPHASE_PHASE_BACKFILL);
}

const struct pgphase_strategy strategy_add_foreign_key_not_valid = {
	.name = "add-foreign-key-not-valid",
	.summary = "ADD FOREIGN KEY: added NOT VALID in expand, VALIDATE CONSTRAINT in its own "
		   "transaction at the end of backfill",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
