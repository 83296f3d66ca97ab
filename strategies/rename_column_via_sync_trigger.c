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
#include <stdlib.h>
#include <string.h>

#include "strategy.h"
#include "base/util.h"

static const char *const SQL_ADD = "ALTER TABLE %s ADD COLUMN %s pgphase_type_t";
static const char *const SQL_DROP_NEW = "ALTER TABLE %s DROP COLUMN IF EXISTS %s";
/* %1$s function, %2$s a, %3$s b, %4$s trigger, %5$s table */
static const char *const SQL_SYNC =
	"CREATE FUNCTION %1$s() RETURNS trigger LANGUAGE plpgsql AS $pgphase$"
	" BEGIN"
	"  IF TG_OP = 'INSERT' THEN"
	"   IF NEW.%3$s IS NULL THEN NEW.%3$s := NEW.%2$s; ELSE NEW.%2$s := NEW.%3$s; END IF;"
	"  ELSIF NEW.%3$s IS DISTINCT FROM OLD.%3$s THEN NEW.%2$s := NEW.%3$s;"
	"  ELSE NEW.%3$s := NEW.%2$s;"
	"  END IF;"
	"  RETURN NEW;"
	" END $pgphase$;"
	"CREATE TRIGGER %4$s BEFORE INSERT OR UPDATE ON %5$s FOR EACH ROW EXECUTE FUNCTION %1$s()";
static const char *const SQL_UNSYNC = "DROP TRIGGER IF EXISTS %s ON %s; DROP FUNCTION IF EXISTS %s()";
static const char *const SQL_COPY = "UPDATE %s SET %s = %s WHERE %s IS DISTINCT FROM %s";
static const char *const SQL_CONTRACT =
	"DROP TRIGGER IF EXISTS %s ON %s; DROP FUNCTION IF EXISTS %s(); "
	"ALTER TABLE %s DROP COLUMN IF EXISTS %s";
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
	const PgQuery__RenameStmt *r = in->node->rename_stmt;
	const PgQuery__RangeVar *rv = r->relation;
	struct plan_column col;
	bool known = plan_column_info(ctx, rv, r->subname, &col);
	const PgQuery__TypeName *tn = known ? col.type : NULL;
	char *views = plan_dependent_views(ctx, rv, r->subname), *disp = sql_rel_display(rv);
	char *rel = NULL, *a = NULL, *b = NULL, *fname = NULL, *fn = NULL, *trg = NULL, *t = NULL;
	char *add = NULL, *drop_new = NULL, *sync = NULL, *unsync = NULL, *copy = NULL, *contract = NULL;
	PgQuery__RangeVar fn_rv = *rv;
	struct sql_graft g = { "t", NULL, tn };
	const PgQuery__Node *upd;
	int rc = -1;

	if (views) {
		plan_fail(ctx, in, err, "cannot rename column \"%s\" of \"%s\" without downtime: views "
			  "depend on it (%s)", r->subname, disp, views);
		pgphase_error_hint(err, "drop and recreate the views in this migration, or put "
					"\"-- pgphase:as-is\" before the statement");
		goto cleanup;
	}
	if (!tn) {
		plan_fail(ctx, in, err, "cannot find the type of column \"%s\" of \"%s\"", r->subname,
			  disp);
		pgphase_error_hint(err, "the column must exist in the database or in a CREATE TABLE "
					"of an earlier migration");
		goto cleanup;
	}
	rel = sql_rel(rv);
	a = sql_ident(r->subname);
	b = sql_ident(r->newname);
	fname = sql_object_name(rv->relname, r->subname, "pgphase_sync");
	fn_rv.relname = fname; /* the function lives in the table's schema */
	fn = sql_rel(&fn_rv);
	trg = sql_ident(fname);
	t = xasprintf(SQL_ADD, rel, b);
	add = sql_render(t, &g, 1, err);
	drop_new = add ? sql_renderf(err, SQL_DROP_NEW, rel, b) : NULL;
	sync = drop_new ? sql_renderf(err, SQL_SYNC, fn, a, b, trg, rel) : NULL;
	unsync = sync ? sql_renderf(err, SQL_UNSYNC, trg, rel, fn) : NULL;
	if (unsync) {
		struct sql_graft d = { "d", col.dflt, NULL };
		char *tail = xasprintf(SQL_CONTRACT, trg, rel, fn, rel, a);
		char *head = col.dflt ? xasprintf(SQL_COPY_DEFAULT, rel, b) : xstrdup("");
		char *text = xasprintf("%s%s", head, tail);

		contract = sql_render(text, &d, 1, err);
		free(tail);
		free(head);
		free(text);
	}
	if (!contract)
		goto cleanup;
	plan_add(ctx, &strategy_rename_column_via_sync_trigger, in, PGPHASE_PHASE_EXPAND,
		 PGPHASE_TXN_GROUP, add, drop_new);
	plan_add(ctx, &strategy_rename_column_via_sync_trigger, in, PGPHASE_PHASE_EXPAND,
		 PGPHASE_TXN_GROUP, sync, unsync);
	add = drop_new = sync = unsync = NULL;
	free(t);
	t = xasprintf(SQL_COPY, rel, b, a, b, a);
	upd = plan_parse_node(ctx, t, err);
	if (!upd || plan_backfill(ctx, &strategy_rename_column_via_sync_trigger, in, upd, err) < 0)
		goto cleanup;
	if (col.not_null && plan_not_null_steps(ctx, &strategy_rename_column_via_sync_trigger, in, rv,
						r->newname, false, err) < 0)
		goto cleanup;
	plan_add(ctx, &strategy_rename_column_via_sync_trigger, in, PGPHASE_PHASE_CONTRACT,
		 PGPHASE_TXN_OWN, contract, NULL);
	contract = NULL;
	rc = 0;
cleanup:
	free(views);
	free(disp);
	free(rel);
	free(a);
	free(b);
	free(fname);
	free(fn);
	free(trg);
	free(t);
	free(add);
	free(drop_new);
	free(sync);
	free(unsync);
	free(copy);
	free(contract);
	return rc;
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
