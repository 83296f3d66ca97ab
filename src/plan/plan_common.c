/*
 * Pieces several strategies share: finding the ALTER TABLE sub-command of a (split)
 * statement, a new column kept in step with an old one by a trigger (rename-column-via-
 * sync-trigger, change-column-type-via-shadow-column), and the NOT NULL sequence that never
 * scans under ACCESS EXCLUSIVE:
 *
 *   ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID    fast, brief lock
 *   count NULLs (clear error with the count)              no lock
 *   VALIDATE CONSTRAINT c                                 scan under SHARE UPDATE EXCLUSIVE
 *   SET NOT NULL; DROP CONSTRAINT c                       no scan on PG >= 12: the valid
 *                                                         check proves the column has no NULL
 */
#include "plan/plan_int.h"
#include "plan/plan_names.h"

static const char *const SQL_ADD_NN_CHECK =
	"ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID";
static const char *const SQL_DROP_CONSTRAINT = "ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s";
static const char *const SQL_VALIDATE = "ALTER TABLE %s VALIDATE CONSTRAINT %s";
static const char *const SQL_COUNT_NULLS = "SELECT count(*) FROM %s WHERE %s IS NULL";
static const char *const SQL_SET_NOT_NULL =
	"ALTER TABLE %s ALTER COLUMN %s SET NOT NULL; ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s";
static const char *const SQL_ADD_TYPED = "ALTER TABLE %s ADD COLUMN %s pgphase_type_t%s";
#define SQL_DROP_COLUMN_FMT "ALTER TABLE %s DROP COLUMN IF EXISTS %s"
/* %1$s function, %2$s its plpgsql body (BEGIN ... END), %3$s trigger, %4$s table */
static const char *const SQL_SYNC =
	"CREATE FUNCTION %1$s() RETURNS trigger LANGUAGE plpgsql AS $pgphase$%2$s$pgphase$;"
	"CREATE TRIGGER %3$s BEFORE INSERT OR UPDATE ON %4$s FOR EACH ROW EXECUTE FUNCTION %1$s()";
static const char *const SQL_UNSYNC =
	"DROP TRIGGER IF EXISTS %s ON %s; DROP FUNCTION IF EXISTS %s()";

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

const PgQuery__ColumnDef *strategy_added_column(const struct strategy_input *in)
{
	const PgQuery__AlterTableCmd *c =
		strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn);

	if (!c || !c->def || c->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
		return NULL;
	return c->def->column_def;
}

const PgQuery__Constraint *strategy_column_constraint(const PgQuery__ColumnDef *cd,
						      PgQuery__ConstrType t)
{
	for (size_t i = 0; i < cd->n_constraints; i++)
		if (cd->constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
		    cd->constraints[i]->constraint->contype == t)
			return cd->constraints[i]->constraint;
	return NULL;
}

int plan_not_null_steps(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			const struct strategy_input *in, const PgQuery__RangeVar *rv,
			const char *column, bool check_in_expand, struct pgphase_error *err)
{
	char *rel = sql_rel(ctx, rv), *col = sql_ident(ctx, column);
	const char *cols[1] = { column };
	struct plan_name_want w = { rv, 'c', false, false, cols, 1 };
	char *con = sql_ident(ctx, plan_choose_name(ctx, &w, rv->relname, column, "not_null", true));
	enum pgphase_phase add_phase = check_in_expand ? PGPHASE_PHASE_EXPAND : PGPHASE_PHASE_CONTRACT;
	enum pgphase_phase check_phase = check_in_expand ? PGPHASE_PHASE_BACKFILL : PGPHASE_PHASE_CONTRACT;
	char *add, *undo = NULL, *count = NULL, *validate = NULL, *set = NULL;
	struct pgphase_step *st;

	add = sql_renderf(ctx, err, SQL_ADD_NN_CHECK, rel, con, col);
	undo = add ? sql_renderf(ctx, err, SQL_DROP_CONSTRAINT, rel, con) : NULL;
	count = undo ? sql_renderf(ctx, err, SQL_COUNT_NULLS, rel, col) : NULL;
	validate = count ? sql_renderf(ctx, err, SQL_VALIDATE, rel, con) : NULL;
	set = validate ? sql_renderf(ctx, err, SQL_SET_NOT_NULL, rel, col, rel, con) : NULL;
	if (!set)
		return -1;
	/* the NULL count comes first in its phase: when it fails, nothing of the phase ran */
	st = plan_add(ctx, by, in, check_phase, PGPHASE_TXN_NONE, count, NULL);
	st->kind = PGPHASE_STEP_CHECK_NULLS;
	st->stage = check_in_expand ? 2 : 0;
	st->target = arena_printf(ctx->arena, "%s.%s", rv->relname, column);
	plan_add(ctx, by, in, add_phase, check_in_expand ? PGPHASE_TXN_GROUP : PGPHASE_TXN_OWN, add,
		 check_in_expand ? undo : NULL);
	st = plan_add(ctx, by, in, check_phase, PGPHASE_TXN_OWN, validate, NULL);
	st->stage = check_in_expand ? 2 : 1;
	plan_add(ctx, by, in, PGPHASE_PHASE_CONTRACT, PGPHASE_TXN_OWN, set, NULL);
	return 0;
}

char *strategy_alter_deparse(struct plan_ctx *ctx, const struct strategy_input *in,
			     const PgQuery__AlterTableCmd *cmd, struct pgphase_error *err)
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
	return sql_deparse(ctx, &stmt, err);
}

char *strategy_constraint_deparse(struct plan_ctx *ctx, const struct strategy_input *in,
				  const PgQuery__Constraint *con, struct pgphase_error *err)
{
	const PgQuery__AlterTableCmd *orig = in->node->alter_table_stmt->cmds[0]->alter_table_cmd;
	PgQuery__AlterTableCmd cmd = *orig;
	PgQuery__Node def = *orig->def;

	def.constraint = (PgQuery__Constraint *)con;
	cmd.def = &def;
	return strategy_alter_deparse(ctx, in, &cmd, err);
}

int plan_constraint_not_valid(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			      const struct strategy_input *in, const char *name,
			      struct pgphase_error *err)
{
	const PgQuery__RangeVar *rv = in->node->alter_table_stmt->relation;
	const PgQuery__Constraint *orig =
		in->node->alter_table_stmt->cmds[0]->alter_table_cmd->def->constraint;
	PgQuery__Constraint con = *orig;
	char *rel = sql_rel(ctx, rv), *cname = sql_ident(ctx, name), *add, *undo = NULL;
	char *validate = NULL;
	struct pgphase_step *st;

	con.conname = (char *)name;
	con.skip_validation = true; /* NOT VALID: only new rows are checked, no scan */
	con.initially_valid = false;
	add = strategy_constraint_deparse(ctx, in, &con, err);
	if (add)
		undo = sql_renderf(ctx, err, SQL_DROP_CONSTRAINT, rel, cname);
	if (undo)
		validate = sql_renderf(ctx, err, SQL_VALIDATE, rel, cname);
	if (!validate)
		return -1;
	plan_add(ctx, by, in, PGPHASE_PHASE_EXPAND, PGPHASE_TXN_GROUP, add, undo);
	/* VALIDATE scans under SHARE UPDATE EXCLUSIVE (writes go on): its own transaction, at
	   the end of backfill, after the data changes that make it hold */
	st = plan_add(ctx, by, in, PGPHASE_PHASE_BACKFILL, PGPHASE_TXN_OWN, validate, NULL);
	st->stage = 2;
	return 0;
}

int plan_refuse_dependent_views(struct plan_ctx *ctx, const struct strategy_input *in,
				const PgQuery__RangeVar *rv, const char *column, const char *what,
				struct pgphase_error *err)
{
	char *views = plan_dependent_views(ctx, rv, column);

	if (!views)
		return 0;
	plan_fail(ctx, in, err, "cannot %s \"%s\" of \"%s\" without downtime: views depend on it "
		  "(%s)", what, column, sql_rel_display(ctx, rv), views);
	pgphase_error_hint(err, "drop and recreate the views in this migration, or put "
				"\"-- pgphase:as-is\" before the statement");
	return -1;
}

int plan_sync_column(struct plan_ctx *ctx, const struct pgphase_strategy *by,
		     const struct strategy_input *in, struct plan_sync *s,
		     struct pgphase_error *err)
{
	PgQuery__RangeVar fn_rv = *s->rv;
	struct sql_graft g = { "t", NULL, s->type };
	char *rel = sql_rel(ctx, s->rv);
	char *fname = sql_helper_name(ctx, s->rv->relname, s->column, s->suffix);
	char *trg = sql_ident(ctx, fname), *fn, *unsync_text, *add, *drop = NULL, *sync = NULL;
	char *unsync = NULL;

	fn_rv.relname = fname; /* the function lives in the table's schema */
	fn = sql_rel(ctx, &fn_rv);
	unsync_text = arena_printf(ctx->arena, SQL_UNSYNC, trg, rel, fn);
	add = sql_render(ctx, arena_printf(ctx->arena, SQL_ADD_TYPED, rel, s->new_column,
					     s->collate ? s->collate : ""), &g, 1, err);
	drop = add ? sql_render(ctx, arena_printf(ctx->arena, "%s" SQL_DROP_COLUMN_FMT,
						  s->undo_first ? s->undo_first : "", rel,
						  s->new_column), NULL, 0, err)
		   : NULL;
	sync = drop ? sql_renderf(ctx, err, SQL_SYNC, fn, s->body, trg, rel) : NULL;
	unsync = sync ? sql_render(ctx, unsync_text, NULL, 0, err) : NULL;
	if (!unsync)
		return -1;
	plan_add(ctx, by, in, PGPHASE_PHASE_EXPAND, PGPHASE_TXN_GROUP, add, drop);
	plan_add(ctx, by, in, PGPHASE_PHASE_EXPAND, PGPHASE_TXN_GROUP, sync, unsync);
	s->unsync = unsync_text;
	return 0;
}
