/*
 * add-foreign-key-not-valid: ADD FOREIGN KEY scans the whole table while holding a lock that
 * blocks writes on both tables.  Added NOT VALID in expand (a brief lock; new rows are
 * checked from then on) and validated at the end of backfill in its own transaction, which
 * scans under SHARE UPDATE EXCLUSIVE and lets the application write.  An unnamed key gets
 * the name PostgreSQL would give it (<table>_<columns>_fkey, numbered while the name is
 * taken in the schema), so VALIDATE can name it.
 *
 * Run as written instead: a partitioned table (PostgreSQL 15 cannot add a NOT VALID foreign
 * key to one), a key referencing a partitioned table (PostgreSQL 15's VALIDATE CONSTRAINT
 * leaves the per-partition clones of such a key marked not validated, where adding it as
 * written validates them all), and a statement the deparser cannot reproduce exactly (ON DELETE SET NULL
 * (columns) is lost by libpg_query's deparser).
 */
#include <string.h>

#include "strategy.h"
#include "plan/plan_names.h"

#define NAMEDATALEN 64

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

	/* the deparser writes ON DELETE SET NULL (cols) with no space before what follows */
	return c && !c->skip_validation && !c->n_fk_del_set_cols &&
	       !plan_is_partitioned(ctx, in->node->alter_table_stmt->relation) &&
	       !(c->pktable && plan_is_partitioned(ctx, c->pktable)) &&
	       sql_round_trips(ctx, in->node);
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__Constraint *c = fk(in);
	const PgQuery__RangeVar *rv = in->node->alter_table_stmt->relation;
	const char **names = arena_alloc(plan_arena(ctx), (c->n_fk_attrs + 1) * sizeof(*names));
	struct plan_name_want w = { rv, 'f', false, false, names, c->n_fk_attrs };
	const char *cols = "", *name = c->conname;

	/* ChooseForeignKeyConstraintNameAddition: the referencing columns joined by "_", cut
	   once past NAMEDATALEN */
	for (size_t i = 0; i < c->n_fk_attrs; i++) {
		names[i] = sql_str(c->fk_attrs[i]);
		if (strlen(cols) < NAMEDATALEN)
			cols = arena_printf(plan_arena(ctx), "%s%s%s", cols, i ? "_" : "", names[i]);
	}
	if (!name[0])
		name = plan_choose_name(ctx, &w, rv->relname, cols[0] ? cols : NULL, "fkey", false);
	return plan_constraint_not_valid(ctx, &strategy_add_foreign_key_not_valid, in, name, err);
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
