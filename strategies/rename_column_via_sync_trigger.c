/*
 * rename-column-via-sync-trigger: RENAME COLUMN a TO b breaks the old app, which still says
 * a.  Expand adds b (a's type and collation) and a trigger that keeps a and b equal both
 * ways: on INSERT whichever the writer set wins; on UPDATE a change to b wins, else b follows
 * a.  Backfill copies a to b in key-ordered batches, then carries what hangs on a to b
 * (src/plan/plan_carry_sql.c): indexes built CONCURRENTLY, constraints (foreign keys of
 * other tables referencing a included) added NOT VALID and validated, NOT NULL proven by a
 * validated check.  Contract, in one short transaction: NOT NULL and a's default on b (only
 * now: a default on b during the transition would hide which column an INSERT set), drop
 * the trigger, its function and a, give the indexes and constraints their names back,
 * attach primary key and unique constraints USING INDEX, comment, privileges, statistics.
 * The end schema is the one RENAME COLUMN gives, but for b's position.
 *
 * What cannot be carried exactly (plan_carry_blocker: views, triggers, policies, identity
 * or generated columns, partitioned or inherited tables, ...) makes the strategy step
 * aside: the statement runs as written.
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
/* the trigger and function drop (plan_sync_column), table, a */
static const char *const SQL_CONTRACT = "%s; ALTER TABLE %s DROP COLUMN IF EXISTS %s";

static bool is_rename(const struct strategy_input *in)
{
	return in->node->node_case == PG_QUERY__NODE__NODE_RENAME_STMT &&
	       in->node->rename_stmt->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN &&
	       in->node->rename_stmt->relation_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE &&
	       in->node->rename_stmt->relation;
}

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	return is_rename(in) && !plan_carry_blocker(ctx, in->node->rename_stmt->relation,
						    in->node->rename_stmt->subname);
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const struct pgphase_strategy *by = &strategy_rename_column_via_sync_trigger;
	struct pgphase_arena *ar = plan_arena(ctx);
	const PgQuery__RenameStmt *r = in->node->rename_stmt;
	const PgQuery__RangeVar *rv = r->relation;
	struct plan_carry *carry =
		plan_carry_load(ctx, in, rv, r->subname, r->newname, r->newname, NULL);
	struct plan_column col;
	bool known = plan_column_info(ctx, rv, r->subname, &col);
	struct plan_sync sync = { rv, r->subname, "pgphase_sync", NULL, known ? col.type : NULL,
				  plan_carry_collate(carry), plan_carry_undo_first(ctx, carry) };
	char *rel, *a, *b, *contract;

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
	contract = plan_carry_contract(ctx, carry,
				       arena_printf(ar, SQL_CONTRACT, sync.unsync, rel, a), err);
	if (!contract ||
	    plan_backfill_text(ctx, by, in, arena_printf(ar, SQL_COPY, rel, b, a, b, a), err) < 0 ||
	    plan_carry_backfilled(ctx, by, in, carry, err) < 0)
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
