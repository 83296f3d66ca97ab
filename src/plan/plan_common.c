/*
 * Pieces several strategies share: finding the ALTER TABLE sub-command of a (split)
 * statement, and the NOT NULL sequence that never scans under ACCESS EXCLUSIVE:
 *
 *   ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID    fast, brief lock
 *   count NULLs (clear error with the count)              no lock
 *   VALIDATE CONSTRAINT c                                 scan under SHARE UPDATE EXCLUSIVE
 *   SET NOT NULL; DROP CONSTRAINT c                       no scan on PG >= 12: the valid
 *                                                         check proves the column has no NULL
 */
#include <stdlib.h>
#include <string.h>

#include "plan/plan_int.h"
#include "base/util.h"

static const char *const SQL_ADD_NN_CHECK =
	"ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID";
static const char *const SQL_DROP_CONSTRAINT = "ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s";
static const char *const SQL_VALIDATE = "ALTER TABLE %s VALIDATE CONSTRAINT %s";
static const char *const SQL_COUNT_NULLS = "SELECT count(*) FROM %s WHERE %s IS NULL";
static const char *const SQL_SET_NOT_NULL =
	"ALTER TABLE %s ALTER COLUMN %s SET NOT NULL; ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s";

const PgQuery__AlterTableCmd *strategy_alter_cmd(const struct strategy_input *in,
						 PgQuery__AlterTableType subtype)
{
	const PgQuery__AlterTableStmt *at;

	if (in->node->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT)
		return NULL;
	at = in->node->alter_table_stmt;
	if (at->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || at->n_cmds != 1 ||
	    at->cmds[0]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD ||
	    at->cmds[0]->alter_table_cmd->subtype != subtype)
		return NULL;
	return at->cmds[0]->alter_table_cmd;
}

int plan_not_null_steps(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			const struct strategy_input *in, const PgQuery__RangeVar *rv,
			const char *column, bool check_in_expand, struct pgphase_error *err)
{
	char *rel = sql_rel(rv), *col = sql_ident(column);
	char *cname = sql_object_name(rv->relname, column, "not_null"), *con = sql_ident(cname);
	enum pgphase_phase add_phase = check_in_expand ? PGPHASE_PHASE_EXPAND : PGPHASE_PHASE_CONTRACT;
	enum pgphase_phase check_phase = check_in_expand ? PGPHASE_PHASE_BACKFILL : PGPHASE_PHASE_CONTRACT;
	char *add = NULL, *undo = NULL, *count = NULL, *validate = NULL, *set = NULL;
	struct pgphase_step *st;
	int rc = -1;

	add = sql_renderf(err, SQL_ADD_NN_CHECK, rel, con, col);
	undo = add ? sql_renderf(err, SQL_DROP_CONSTRAINT, rel, con) : NULL;
	count = undo ? sql_renderf(err, SQL_COUNT_NULLS, rel, col) : NULL;
	validate = count ? sql_renderf(err, SQL_VALIDATE, rel, con) : NULL;
	set = validate ? sql_renderf(err, SQL_SET_NOT_NULL, rel, col, rel, con) : NULL;
	if (!set)
		goto cleanup;
	/* the NULL count comes first in its phase: when it fails, nothing of the phase ran */
	st = plan_add(ctx, by, in, check_phase, PGPHASE_TXN_NONE, count, NULL);
	count = NULL;
	st->kind = PGPHASE_STEP_CHECK_NULLS;
	st->stage = check_in_expand ? 2 : 0;
	st->target = xasprintf("%s.%s", rv->relname, column);
	st = plan_add(ctx, by, in, add_phase, check_in_expand ? PGPHASE_TXN_GROUP : PGPHASE_TXN_OWN,
		      add, check_in_expand ? undo : NULL);
	add = NULL;
	if (check_in_expand)
		undo = NULL;
	st = plan_add(ctx, by, in, check_phase, PGPHASE_TXN_OWN, validate, NULL);
	validate = NULL;
	st->stage = check_in_expand ? 2 : 1;
	st = plan_add(ctx, by, in, PGPHASE_PHASE_CONTRACT, PGPHASE_TXN_OWN, set, NULL);
	set = NULL;
	rc = 0;
cleanup:
	free(add);
	free(undo);
	free(count);
	free(validate);
	free(set);
	free(rel);
	free(col);
	free(cname);
	free(con);
	return rc;
}

char *strategy_alter_deparse(const struct strategy_input *in, const PgQuery__AlterTableCmd *cmd,
			     struct pgphase_error *err)
{
	const PgQuery__Node *n = in->node;
	PgQuery__AlterTableStmt at = *n->alter_table_stmt;
	PgQuery__Node stmt = *n, cmd_node = *at.cmds[0];
	PgQuery__Node *cmds[1] = { &cmd_node };

	/* shallow copies: only the pointers on the path to the changed command differ */
	cmd_node.alter_table_cmd = (PgQuery__AlterTableCmd *)cmd;
	at.n_cmds = 1;
	at.cmds = cmds;
	stmt.alter_table_stmt = &at;
	return sql_deparse(&stmt, err);
}

char *strategy_constraint_deparse(const struct strategy_input *in, const PgQuery__Constraint *con,
				  struct pgphase_error *err)
{
	const PgQuery__AlterTableCmd *orig = in->node->alter_table_stmt->cmds[0]->alter_table_cmd;
	PgQuery__AlterTableCmd cmd = *orig;
	PgQuery__Node def = *orig->def;

	def.constraint = (PgQuery__Constraint *)con;
	cmd.def = &def;
	return strategy_alter_deparse(in, &cmd, err);
}

int plan_constraint_not_valid(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			      const struct strategy_input *in, const char *name,
			      struct pgphase_error *err)
{
	const PgQuery__RangeVar *rv = in->node->alter_table_stmt->relation;
	const PgQuery__Constraint *orig =
		in->node->alter_table_stmt->cmds[0]->alter_table_cmd->def->constraint;
	PgQuery__Constraint con = *orig;
	char *rel = sql_rel(rv), *cname = sql_ident(name), *add, *undo = NULL, *validate = NULL;
	struct pgphase_step *st;

	con.conname = (char *)name;
	con.skip_validation = true; /* NOT VALID: only new rows are checked, no scan */
	con.initially_valid = false;
	add = strategy_constraint_deparse(in, &con, err);
	if (add)
		undo = sql_renderf(err, SQL_DROP_CONSTRAINT, rel, cname);
	if (undo)
		validate = sql_renderf(err, SQL_VALIDATE, rel, cname);
	free(rel);
	free(cname);
	if (!validate) {
		free(add);
		free(undo);
		return -1;
	}
	plan_add(ctx, by, in, PGPHASE_PHASE_EXPAND, PGPHASE_TXN_GROUP, add, undo);
	/* VALIDATE scans under SHARE UPDATE EXCLUSIVE (writes go on): its own transaction, at
	   the end of backfill, after the data changes that make it hold */
	st = plan_add(ctx, by, in, PGPHASE_PHASE_BACKFILL, PGPHASE_TXN_OWN, validate, NULL);
	st->stage = 2;
	return 0;
}
