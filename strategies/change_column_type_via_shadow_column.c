/*
 * change-column-type-via-shadow-column: ALTER COLUMN c TYPE t that is not binary-coercible
 * rewrites the table under ACCESS EXCLUSIVE.  Expand adds a shadow column c_pgphase_new of
 * type t (and the statement's COLLATE) and a trigger that sets it from c (the USING
 * expression, else a cast) on every INSERT and UPDATE; backfill touches every row in
 * key-ordered batches so the trigger fills the shadow, then carries what hangs on c to the
 * shadow (src/plan/plan_carry_sql.c: indexes CONCURRENTLY, constraints of this and other
 * tables NOT VALID then validated, NOT NULL by a validated check); contract, in one short
 * transaction, sets NOT NULL and the default on the shadow, drops the trigger, its function
 * and c, renames the shadow to c and gives indexes and constraints their names back.
 * Changes PostgreSQL makes without a rewrite (plan_binary_coercible: varchar(n) to text or a
 * longer varchar, the same type, ...) run as written; offline every change is treated as a
 * rewrite.
 *
 * DROP NOT NULL and DROP DEFAULT of c in the same ALTER TABLE are honoured; anything
 * that cannot be carried exactly (plan_carry_blocker, plan_carry_sibling_blocker) makes the
 * strategy step aside: the statement runs as written, with PostgreSQL's own rules.
 */
#include "strategy.h"

/* The shadow's value, evaluated over the row being written: NEW's columns under c's name. */
static const char *const SQL_VALUE = "SELECT pgphase_slot_e FROM (SELECT (NEW).*) AS %s";
static const char *const SQL_CAST = "SELECT CAST(%s AS pgphase_type_t)";
/* The trigger function's body: %s shadow, %s value query. */
static const char *const SQL_SYNC_BODY = " BEGIN NEW.%s := (%s); RETURN NEW; END ";
/* Any UPDATE fires the trigger, which computes the shadow; naming the shadow in both SET and
 * WHERE makes the statement idempotent (a filled row no longer matches). */
static const char *const SQL_TOUCH = "UPDATE %s SET %s = NULL WHERE %s IS NULL";
/* %s trigger and function drop, then the swap (plan_carry_contract wraps it) */
static const char *const SQL_SWAP =
	"%s; ALTER TABLE %s DROP COLUMN %s; ALTER TABLE %s RENAME COLUMN %s TO %s";

static const PgQuery__AlterTableCmd *type_cmd(const struct strategy_input *in)
{
	const PgQuery__AlterTableCmd *c =
		strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType);

	return c && c->def && c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF ? c : NULL;
}

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	const PgQuery__AlterTableCmd *c = type_cmd(in);
	const PgQuery__RangeVar *rv = c ? in->node->alter_table_stmt->relation : NULL;

	return c &&
	       !(c->def->column_def->raw_default == NULL && !c->def->column_def->coll_clause &&
		 plan_binary_coercible(ctx, rv, c->name, c->def->column_def->type_name)) &&
	       !plan_carry_sibling_blocker(in, c->name) && !plan_carry_blocker(ctx, rv, c->name);
}

/* The value query: USING expression or CAST(c AS t), over NEW. */
static char *value_query(const PgQuery__RangeVar *rv, const PgQuery__AlterTableCmd *c,
			 struct plan_ctx *ctx, struct pgphase_error *err)
{
	const PgQuery__ColumnDef *cd = c->def->column_def;
	struct sql_graft g[2] = { { "e", cd->raw_default, NULL }, { "t", NULL, cd->type_name } };
	struct pgphase_arena *a = plan_arena(ctx);

	if (!cd->raw_default) {
		char *cast = arena_printf(a, SQL_CAST, sql_ident(ctx, c->name));
		const PgQuery__Node *sel = plan_parse_node(ctx, cast, err);

		if (!sel)
			return NULL;
		g[0].node = sel->select_stmt->target_list[0]->res_target->val;
	}
	return sql_render(ctx, arena_printf(a, SQL_VALUE, sql_ident(ctx, rv->relname)), g, 2, err);
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const struct pgphase_strategy *by = &strategy_change_column_type_via_shadow_column;
	struct pgphase_arena *a = plan_arena(ctx);
	const PgQuery__RangeVar *rv = in->node->alter_table_stmt->relation;
	const PgQuery__AlterTableCmd *c = type_cmd(in);
	char *sname = sql_object_name(ctx, c->name, NULL, "pgphase_new");
	char *rel = sql_rel(ctx, rv), *col = sql_ident(ctx, c->name);
	char *shadow = sql_ident(ctx, sname);
	struct plan_carry *carry =
		plan_carry_load(ctx, in, rv, c->name, sname, c->name, c->def->column_def);
	struct plan_sync sync = { rv, c->name, "pgphase_retype", shadow,
				  c->def->column_def->type_name, plan_carry_collate(carry),
				  plan_carry_undo_first(ctx, carry) };
	char *value, *swap, *touch;

	value = value_query(rv, c, ctx, err);
	if (!value)
		return -1;
	sync.body = arena_printf(a, SQL_SYNC_BODY, shadow, value);
	if (plan_sync_column(ctx, by, in, &sync, err) < 0)
		return -1;
	swap = arena_printf(a, SQL_SWAP, sync.unsync, rel, col, rel, shadow, col);
	swap = plan_carry_contract(ctx, carry, swap, err);
	touch = arena_printf(a, SQL_TOUCH, rel, shadow, shadow);
	if (!swap || plan_backfill_text(ctx, by, in, touch, err) < 0 ||
	    plan_carry_backfilled(ctx, by, in, carry, err) < 0)
		return -1;
	plan_add(ctx, by, in, PGPHASE_PHASE_CONTRACT, PGPHASE_TXN_OWN, swap, NULL);
	return 0;
}

/* last step: the swap */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase_raised(in, PGPHASE_PHASE_CONTRACT);
}

const struct pgphase_strategy strategy_change_column_type_via_shadow_column = {
	.name = "change-column-type-via-shadow-column",
	.summary = "ALTER COLUMN TYPE (rewriting): shadow column and sync trigger in expand, "
		   "batched fill in backfill, swap in one short transaction in contract",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
