/*
 * add-required-column: ADD COLUMN ... NOT NULL without a default fails on a table with rows
 * and breaks the old app's INSERTs, which do not know the column.  Expand adds the column
 * nullable; contract (when no old app is left, and the new app has filled the column) counts
 * NULLs first (a clear error with the count; the migration stays backfilled), then adds
 * CHECK (c IS NOT NULL) NOT VALID, validates it, and runs SET NOT NULL without a scan.  The
 * check cannot go in expand: the old app's INSERTs would violate it.
 */
#include "strategy.h"

static bool has_constraint(const PgQuery__ColumnDef *cd, PgQuery__ConstrType t)
{
	return strategy_column_constraint(cd, t) != NULL;
}

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	const PgQuery__ColumnDef *cd = strategy_added_column(in);

	/* ADD COLUMN IF NOT EXISTS of an existing column does nothing: as written */
	return cd && !strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn)->missing_ok &&
	       (cd->is_not_null || has_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL)) &&
	       !has_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT) &&
	       !has_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY) &&
	       !has_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED) &&
	       !has_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) &&
	       sql_round_trips(ctx, in->node);
}

static const char *const SQL_DROP_COLUMN = "ALTER TABLE %s DROP COLUMN IF EXISTS %s";

/* ADD COLUMN without NOT NULL (and without the DEFAULT when drop_default), plus its undo. */
int strategy_add_nullable_column(struct plan_ctx *ctx, const struct pgphase_strategy *by,
				 const struct strategy_input *in, bool drop_default,
				 struct pgphase_error *err)
{
	const PgQuery__AlterTableCmd *orig = in->node->alter_table_stmt->cmds[0]->alter_table_cmd;
	const PgQuery__ColumnDef *ocd = orig->def->column_def;
	PgQuery__AlterTableCmd cmd = *orig;
	PgQuery__Node def = *orig->def;
	PgQuery__ColumnDef cd = *ocd;
	PgQuery__Node **kept =
		arena_alloc(plan_arena(ctx), (ocd->n_constraints + 1) * sizeof(*kept));
	char *sql, *undo = NULL;

	cd.n_constraints = 0;
	for (size_t i = 0; i < ocd->n_constraints; i++) {
		const PgQuery__Node *k = ocd->constraints[i];

		if (k->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
		    (k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL ||
		     (drop_default && k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT)))
			continue;
		kept[cd.n_constraints++] = ocd->constraints[i];
	}
	cd.constraints = kept;
	cd.is_not_null = false;
	def.column_def = &cd;
	cmd.def = &def;
	sql = strategy_alter_deparse(ctx, in, &cmd, err);
	if (sql)
		undo = sql_renderf(ctx, err, SQL_DROP_COLUMN,
				   sql_rel(ctx, in->node->alter_table_stmt->relation),
				   sql_ident(ctx, ocd->colname));
	if (!undo)
		return -1;
	plan_add(ctx, by, in, PGPHASE_PHASE_EXPAND, PGPHASE_TXN_GROUP, sql, undo);
	return 0;
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	if (strategy_add_nullable_column(ctx, &strategy_add_required_column, in, false, err) < 0)
		return -1;
	return plan_not_null_steps(ctx, &strategy_add_required_column, in,
				   in->node->alter_table_stmt->relation,
				   strategy_added_column(in)->colname, false, err);
}

/* last step: SET NOT NULL */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase_raised(in, PGPHASE_PHASE_CONTRACT);
}

const struct pgphase_strategy strategy_add_required_column = {
	.name = "add-required-column",
	.summary = "ADD COLUMN NOT NULL without default: added nullable in expand; NULL count, "
		   "CHECK NOT VALID, VALIDATE and SET NOT NULL in contract",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
