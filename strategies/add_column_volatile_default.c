/*
 * add-column-volatile-default: ADD COLUMN ... DEFAULT volatile() (random(), clock_timestamp(),
 * gen_random_uuid(), nextval(), ...) rewrites the whole table under ACCESS EXCLUSIVE.  Expand
 * adds the column without a default and then sets the default (new rows get it from then on);
 * backfill fills the existing rows in key-ordered batches (UPDATE ... SET c = DEFAULT WHERE c
 * IS NULL); a NOT NULL on the column is applied in contract like add-required-column.
 * Volatility comes from pg_proc when online, from a list of known functions offline.
 */
#include "strategy.h"

static const char *const SQL_SET_DEFAULT = "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT pgphase_slot_d";
static const char *const SQL_DROP_DEFAULT = "ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT";
static const char *const SQL_FILL = "UPDATE %s SET %s = DEFAULT WHERE %s IS NULL";

static bool column_not_null(const PgQuery__ColumnDef *cd)
{
	return cd->is_not_null ||
	       strategy_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL);
}

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	const PgQuery__ColumnDef *cd = strategy_added_column(in);
	const PgQuery__Constraint *d =
		cd ? strategy_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT) : NULL;

	/* ADD COLUMN IF NOT EXISTS of an existing column does nothing: as written */
	return d && d->raw_expr &&
	       !strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn)->missing_ok &&
	       !strategy_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) &&
	       plan_expr_volatile(ctx, d->raw_expr) &&
	       sql_round_trips(ctx, in->node);
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__RangeVar *rv = in->node->alter_table_stmt->relation;
	const PgQuery__ColumnDef *cd = strategy_added_column(in);
	const PgQuery__Constraint *d =
		strategy_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT);
	bool not_null = column_not_null(cd);
	struct sql_graft g = { "d", d->raw_expr, NULL };
	struct pgphase_arena *a = plan_arena(ctx);
	char *rel = sql_rel(ctx, rv), *col = sql_ident(ctx, cd->colname), *set, *unset;

	if (strategy_add_nullable_column(ctx, &strategy_add_column_volatile_default, in, true, err) < 0)
		return -1;
	set = sql_render(ctx, arena_printf(a, SQL_SET_DEFAULT, rel, col), &g, 1, err);
	unset = set ? sql_renderf(ctx, err, SQL_DROP_DEFAULT, rel, col) : NULL;
	if (!unset)
		return -1;
	plan_add(ctx, &strategy_add_column_volatile_default, in, PGPHASE_PHASE_EXPAND,
		 PGPHASE_TXN_GROUP, set, unset);
	/* existing rows: SET c = DEFAULT evaluates the default once per row, in batches */
	if (plan_backfill_text(ctx, &strategy_add_column_volatile_default, in,
			       arena_printf(a, SQL_FILL, rel, col, col), err) < 0)
		return -1;
	if (not_null)
		return plan_not_null_steps(ctx, &strategy_add_column_volatile_default, in, rv,
					   cd->colname, false, err);
	return 0;
}

/* last step: SET NOT NULL when the column has one, else the batched fill */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return column_not_null(strategy_added_column(in)) ? PGPHASE_PHASE_CONTRACT
					   : plan_phase(in, PGPHASE_PHASE_BACKFILL);
}

const struct pgphase_strategy strategy_add_column_volatile_default = {
	.name = "add-column-volatile-default",
	.summary = "ADD COLUMN with a volatile DEFAULT: added without default then SET DEFAULT in "
		   "expand, existing rows filled in batches in backfill",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
