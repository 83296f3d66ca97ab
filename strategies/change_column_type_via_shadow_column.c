/*
 * change-column-type-via-shadow-column: ALTER COLUMN c TYPE t that is not binary-coercible
 * rewrites the table under ACCESS EXCLUSIVE.  Expand adds a shadow column c_pgphase_new of
 * type t and a trigger that sets it from c (the USING expression, else a cast) on every
 * INSERT and UPDATE; backfill touches every row in key-ordered batches so the trigger fills
 * the shadow; contract, in one short transaction, drops the trigger, its function and c and
 * renames the shadow to c.  Binary-coercible changes (varchar(n) to text or to a longer
 * varchar) need no rewrite and run as written; offline every change is treated as a rewrite.
 *
 * c's NOT NULL is carried over (NULL count, validated check and SET NOT NULL on the shadow in
 * contract, before the swap); its default and indexes are not; views on c are refused at
 * plan time, because contract could not drop c.
 */
#include <stdlib.h>
#include <string.h>

#include "strategy.h"
#include "base/util.h"

static const char *const SQL_ADD = "ALTER TABLE %s ADD COLUMN %s pgphase_type_t";
static const char *const SQL_DROP_NEW = "ALTER TABLE %s DROP COLUMN IF EXISTS %s";
/* The shadow's value, evaluated over the row being written: NEW's columns under c's name. */
static const char *const SQL_VALUE = "SELECT pgphase_slot_e FROM (SELECT (NEW).*) AS %s";
static const char *const SQL_CAST = "SELECT CAST(%s AS pgphase_type_t)";
/* %1$s function, %2$s shadow, %3$s value query, %4$s trigger, %5$s table */
static const char *const SQL_SYNC =
	"CREATE FUNCTION %1$s() RETURNS trigger LANGUAGE plpgsql AS $pgphase$"
	" BEGIN NEW.%2$s := (%3$s); RETURN NEW; END $pgphase$;"
	"CREATE TRIGGER %4$s BEFORE INSERT OR UPDATE ON %5$s FOR EACH ROW EXECUTE FUNCTION %1$s()";
static const char *const SQL_UNSYNC = "DROP TRIGGER IF EXISTS %s ON %s; DROP FUNCTION IF EXISTS %s()";
/* Any UPDATE fires the trigger, which computes the shadow; naming the shadow in both SET and
 * WHERE makes the statement idempotent (a filled row no longer matches). */
static const char *const SQL_TOUCH = "UPDATE %s SET %s = NULL WHERE %s IS NULL";
static const char *const SQL_SWAP =
	"DROP TRIGGER IF EXISTS %s ON %s; DROP FUNCTION IF EXISTS %s(); "
	"ALTER TABLE %s DROP COLUMN %s; ALTER TABLE %s RENAME COLUMN %s TO %s";

static const PgQuery__AlterTableCmd *type_cmd(const struct strategy_input *in)
{
	const PgQuery__AlterTableCmd *c =
		strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType);

	return c && c->def && c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF ? c : NULL;
}

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	const PgQuery__AlterTableCmd *c = type_cmd(in);

	return c && !(c->def->column_def->raw_default == NULL &&
		      plan_binary_coercible(ctx, in->node->alter_table_stmt->relation, c->name,
					    c->def->column_def->type_name));
}

/* The value query: USING expression or CAST(c AS t), over NEW. */
static char *value_query(const PgQuery__RangeVar *rv, const PgQuery__AlterTableCmd *c,
			 struct plan_ctx *ctx, struct pgphase_error *err)
{
	const PgQuery__ColumnDef *cd = c->def->column_def;
	struct sql_graft g[2] = { { "e", cd->raw_default, NULL }, { "t", NULL, cd->type_name } };
	char *alias, *text, *out;

	if (!cd->raw_default) {
		char *col = sql_ident(c->name);
		const PgQuery__Node *sel;

		text = xasprintf(SQL_CAST, col);
		sel = plan_parse_node(ctx, text, err);
		free(col);
		free(text);
		if (!sel)
			return NULL;
		g[0].node = sel->select_stmt->target_list[0]->res_target->val;
	}
	alias = sql_ident(rv->relname);
	text = xasprintf(SQL_VALUE, alias);
	free(alias);
	out = sql_render(text, g, 2, err);
	free(text);
	return out;
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__RangeVar *rv = in->node->alter_table_stmt->relation;
	const PgQuery__AlterTableCmd *c = type_cmd(in);
	char *views = plan_dependent_views(ctx, rv, c->name), *disp = sql_rel_display(rv);
	char *sname = sql_object_name(c->name, NULL, "pgphase_new");
	char *fname = sql_object_name(rv->relname, c->name, "pgphase_retype");
	char *rel = sql_rel(rv), *col = sql_ident(c->name), *shadow = sql_ident(sname);
	char *trg = sql_ident(fname), *fn, *t, *value = NULL;
	char *add = NULL, *drop_new = NULL, *sync = NULL, *unsync = NULL, *swap = NULL;
	PgQuery__RangeVar fn_rv = *rv;
	struct sql_graft g = { "t", NULL, c->def->column_def->type_name };
	struct plan_column info;
	const PgQuery__Node *upd;
	int rc = -1;

	fn_rv.relname = fname;
	fn = sql_rel(&fn_rv);
	t = xasprintf(SQL_ADD, rel, shadow);
	if (views) {
		plan_fail(ctx, in, err, "cannot change the type of column \"%s\" of \"%s\" without "
			  "downtime: views depend on it (%s)", c->name, disp, views);
		pgphase_error_hint(err, "drop and recreate the views in this migration, or put "
					"\"-- pgphase:as-is\" before the statement");
		goto cleanup;
	}
	add = sql_render(t, &g, 1, err);
	drop_new = add ? sql_renderf(err, SQL_DROP_NEW, rel, shadow) : NULL;
	value = drop_new ? value_query(rv, c, ctx, err) : NULL;
	sync = value ? sql_renderf(err, SQL_SYNC, fn, shadow, value, trg, rel) : NULL;
	unsync = sync ? sql_renderf(err, SQL_UNSYNC, trg, rel, fn) : NULL;
	swap = unsync ? sql_renderf(err, SQL_SWAP, trg, rel, fn, rel, col, rel, shadow, col) : NULL;
	if (!swap)
		goto cleanup;
	plan_add(ctx, &strategy_change_column_type_via_shadow_column, in, PGPHASE_PHASE_EXPAND,
		 PGPHASE_TXN_GROUP, add, drop_new);
	plan_add(ctx, &strategy_change_column_type_via_shadow_column, in, PGPHASE_PHASE_EXPAND,
		 PGPHASE_TXN_GROUP, sync, unsync);
	add = drop_new = sync = unsync = NULL;
	free(t);
	t = xasprintf(SQL_TOUCH, rel, shadow, shadow);
	upd = plan_parse_node(ctx, t, err);
	if (!upd || plan_backfill(ctx, &strategy_change_column_type_via_shadow_column, in, upd, err) < 0)
		goto cleanup;
	if (plan_column_info(ctx, rv, c->name, &info) && info.not_null &&
	    plan_not_null_steps(ctx, &strategy_change_column_type_via_shadow_column, in, rv, sname,
				false, err) < 0)
		goto cleanup;
	plan_add(ctx, &strategy_change_column_type_via_shadow_column, in, PGPHASE_PHASE_CONTRACT,
		 PGPHASE_TXN_OWN, swap, NULL);
	swap = NULL;
	rc = 0;
cleanup:
	free(views);
	free(disp);
	free(sname);
	free(fname);
	free(rel);
	free(col);
	free(shadow);
	free(trg);
	free(fn);
	free(t);
	free(value);
	free(add);
	free(drop_new);
	free(sync);
	free(unsync);
	free(swap);
	return rc;
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
