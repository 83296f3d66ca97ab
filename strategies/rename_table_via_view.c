/*
 * rename-table-via-view: ALTER TABLE a RENAME TO b breaks the old app, which still says a.
 * Expand renames the table and creates a view a over b in the same transaction; a simple
 * view is updatable, so the old app keeps reading and writing through it.  Contract drops the
 * view.  Undo (rollback before contract) drops the view and renames the table back.
 */
#include "strategy.h"

static const char *const SQL_EXPAND = "ALTER TABLE %s RENAME TO %s; CREATE VIEW %s AS SELECT * FROM %s";
static const char *const SQL_UNDO = "DROP VIEW IF EXISTS %s; ALTER TABLE IF EXISTS %s RENAME TO %s";
static const char *const SQL_CONTRACT = "DROP VIEW IF EXISTS %s";

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	(void)ctx;
	return in->node->node_case == PG_QUERY__NODE__NODE_RENAME_STMT &&
	       in->node->rename_stmt->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE &&
	       in->node->rename_stmt->relation;
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__RenameStmt *r = in->node->rename_stmt;
	PgQuery__RangeVar new_rv = *r->relation;
	char *old_rel = sql_rel(ctx, r->relation), *new_rel, *new_name = sql_ident(ctx, r->newname);
	char *old_name = sql_ident(ctx, r->relation->relname);
	char *expand, *undo = NULL, *contract = NULL;

	new_rv.relname = r->newname; /* RENAME TO keeps the schema */
	new_rel = sql_rel(ctx, &new_rv);
	expand = sql_renderf(ctx, err, SQL_EXPAND, old_rel, new_name, old_rel, new_rel);
	if (expand)
		undo = sql_renderf(ctx, err, SQL_UNDO, old_rel, new_rel, old_name);
	if (undo)
		contract = sql_renderf(ctx, err, SQL_CONTRACT, old_rel);
	if (!contract)
		return -1;
	plan_add(ctx, &strategy_rename_table_via_view, in, PGPHASE_PHASE_EXPAND, PGPHASE_TXN_GROUP,
		 expand, undo);
	plan_add(ctx, &strategy_rename_table_via_view, in, PGPHASE_PHASE_CONTRACT, PGPHASE_TXN_OWN,
		 contract, NULL);
	return 0;
}

/* last step: the rename behind the view */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase_raised(in, PGPHASE_PHASE_CONTRACT);
}

const struct pgphase_strategy strategy_rename_table_via_view = {
	.name = "rename-table-via-view",
	.summary = "RENAME TABLE a TO b: rename plus an updatable view a in expand, view dropped "
		   "in contract",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
