/*
 * rename-column-via-sync-trigger: RENAME COLUMN a TO b breaks the old app, which still says
 * a.  Expand adds b (a's type) and a trigger that keeps a and b equal both ways: on INSERT
 * whichever the writer set wins; on UPDATE a change to b wins, else b follows a.  Backfill
 * copies a to b in key-ordered batches.  Contract gives b a's NOT NULL (NULL count, validated
 * check, SET NOT NULL without a scan) and a's default (only now: a default on b during the
 * transition would hide which column an INSERT set), then drops the trigger, its function
 * and a, in one short transaction.
 *
 * a's indexes and constraints other than NOT NULL are not carried over to b: add them in the
 * same migration (they are planned by their own strategies).  Views on a are refused at plan
 * time, because contract could not drop a.
 */
#include "strategy.h"

/* The trigger function's body: %1$s a, %2$s b. */
static const char *const SQL_SYNC_BODY =
	" BEGIN"
	"  IF TG_OP = 'INSERT' THEN"
	"   IF NEW.%2$s IS NULL THEN NEW.%2$s := NEW.%1$s; ELSE NEW.%1$s := NEW.%2$s; END IF;"
	"  ELSIF NEW.%2$s IS DISTINCT FROM OLD.%2$s THEN NEW.%1$s := NEW.%2$s;"
	"  ELSE NEW.%2$s := NEW.%1$s;"
	"  END IF;"
	"  RETURN NEW;"
	" END ";
static const char *const SQL_COPY = "UPDATE %s SET %s = %s WHERE %s IS DISTINCT FROM %s";
/* b's default when a has one (SQL_COPY_DEFAULT, else empty), the trigger and function drop
 * (plan_sync_column), table, a */
static const char *const SQL_CONTRACT = "%s%s; ALTER TABLE %s DROP COLUMN IF EXISTS %s";
static const char *const SQL_COPY_DEFAULT = "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT pgphase_slot_d; ";

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	(void)ctx;
	return in->node->node_case == PG_QUERY__NODE__NODE_RENAME_STMT &&
	       in->node->rename_stmt->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN &&
	       in->node->rename_stmt->relation_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE &&
	       in->node->rename_stmt->relation;
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const struct pgphase_strategy *by = &strategy_rename_column_via_sync_trigger;
	struct pgphase_arena *ar = plan_arena(ctx);
	const PgQuery__RenameStmt *r = in->node->rename_stmt;
	const PgQuery__RangeVar *rv = r->relation;
	struct plan_column col;
	bool known = plan_column_info(ctx, rv, r->subname, &col);
	struct sql_graft d = { "d", col.dflt, NULL };
	struct plan_sync sync = { rv, r->subname, "pgphase_sync", NULL, known ? col.type : NULL };
	char *rel, *a, *b, *dflt, *contract;

	if (plan_refuse_dependent_views(ctx, in, rv, r->subname, "rename column", err) < 0)
		return -1;
	if (!sync.type) {
		plan_fail(ctx, in, err, "cannot find the type of column \"%s\" of \"%s\"", r->subname,
			  sql_rel_display(ctx, rv));
		pgphase_error_hint(err, "the column must exist in the database or in a CREATE TABLE "
					"of an earlier migration");
		return -1;
	}
	rel = sql_rel(ctx, rv);
	a = sql_ident(ctx, r->subname);
	b = sql_ident(ctx, r->newname);
	sync.new_column = b;
	sync.body = arena_printf(ar, SQL_SYNC_BODY, a, b);
	if (plan_sync_column(ctx, by, in, &sync, err) < 0)
		return -1;
	dflt = col.dflt ? arena_printf(ar, SQL_COPY_DEFAULT, rel, b) : "";
	contract = sql_render(ctx, arena_printf(ar, SQL_CONTRACT, dflt, sync.unsync, rel, a), &d, 1,
			      err);
	if (!contract ||
	    plan_backfill_text(ctx, by, in, arena_printf(ar, SQL_COPY, rel, b, a, b, a), err) < 0)
		return -1;
	if (col.not_null && plan_not_null_steps(ctx, by, in, rv, r->newname, false, err) < 0)
		return -1;
	plan_add(ctx, by, in, PGPHASE_PHASE_CONTRACT, PGPHASE_TXN_OWN, contract, NULL);
	return 0;
}

/* last step: dropping the old name */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase_raised(in, PGPHASE_PHASE_CONTRACT);
}

const struct pgphase_strategy strategy_rename_column_via_sync_trigger = {
	.name = "rename-column-via-sync-trigger",
	.summary = "RENAME COLUMN a TO b: add b with a two-way sync trigger in expand, copy in "
		   "batches in backfill, drop trigger and a in contract",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
