/*
 * Statements run as written: in expand (or the phase their marker names), grouped in the
 * migration's transaction, or alone outside any transaction when PostgreSQL refuses them
 * inside one (CONCURRENTLY, VACUUM, ...) or the file says -- pgphase:no-transaction.
 *
 * Simple creations get an undo (DROP ... IF EXISTS), so a migration that is expanded but
 * not complete can be rolled back without a DOWN section.  Also here: the linter's hook,
 * which asks the registry which strategy a statement gets.
 */
#include <stdlib.h>
#include <string.h>

#include "plan/plan_int.h"
#include "base/util.h"

static const char *const SQL_UNDO_TABLE = "DROP TABLE IF EXISTS %s";
static const char *const SQL_UNDO_VIEW = "DROP VIEW IF EXISTS %s";
static const char *const SQL_UNDO_SEQUENCE = "DROP SEQUENCE IF EXISTS %s";
static const char *const SQL_UNDO_INDEX = "DROP INDEX %sIF EXISTS %s";
static const char *const SQL_UNDO_COLUMN = "ALTER TABLE %s DROP COLUMN IF EXISTS %s";

static char *undo_rel(struct plan_ctx *ctx, const char *tmpl, const PgQuery__RangeVar *rv,
		      struct pgphase_error *err)
{
	return sql_renderf(ctx, err, tmpl, sql_rel(ctx, rv));
}

/* The inverse of a creation run as written, or NULL when there is none we can be sure of. */
static char *undo_for(struct plan_ctx *ctx, const PgQuery__Node *n, struct pgphase_error *err)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		if (n->create_stmt->if_not_exists)
			return NULL; /* it may have existed before: not ours to drop */
		return undo_rel(ctx, SQL_UNDO_TABLE, n->create_stmt->relation, err);
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		if (n->view_stmt->replace)
			return NULL;
		return undo_rel(ctx, SQL_UNDO_VIEW, n->view_stmt->view, err);
	case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
		if (n->create_seq_stmt->if_not_exists)
			return NULL;
		return undo_rel(ctx, SQL_UNDO_SEQUENCE, n->create_seq_stmt->sequence, err);
	case PG_QUERY__NODE__NODE_INDEX_STMT: {
		const PgQuery__IndexStmt *ix = n->index_stmt;
		PgQuery__RangeVar rv = *ix->relation;

		if (!ix->idxname[0] || ix->if_not_exists)
			return NULL;
		rv.relname = ix->idxname;
		return sql_renderf(ctx, err, SQL_UNDO_INDEX, ix->concurrent ? "CONCURRENTLY " : "",
				   sql_rel(ctx, &rv));
	}
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT: {
		const PgQuery__AlterTableStmt *at = n->alter_table_stmt;
		const PgQuery__AlterTableCmd *c;

		if (at->n_cmds != 1 || at->cmds[0]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
			return NULL;
		c = at->cmds[0]->alter_table_cmd;
		if (c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn || c->missing_ok || !c->def ||
		    c->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
			return NULL;
		return sql_renderf(ctx, err, SQL_UNDO_COLUMN, sql_rel(ctx, at->relation),
				   sql_ident(ctx, c->def->column_def->colname));
	}
	default:
		return plan_undo_create(ctx, n, err); /* plan_undo.c */
	}
}

int plan_as_written(struct plan_ctx *ctx, const struct strategy_input *in,
		    struct pgphase_error *err)
{
	bool none = in->stmt->no_transaction || ctx->m->no_transaction;
	char *sql, *undo = NULL;

	if (in->node != in->stmt->node) {
		/* one sub-command of a split ALTER TABLE */
		sql = sql_deparse(ctx, in->node, err);
		if (!sql)
			return -1;
		none = ctx->m->no_transaction || pgphase_node_no_transaction(in->node);
	} else {
		sql = arena_strdup(ctx->arena, in->stmt->sql);
	}
	if (plan_phase(in, PGPHASE_PHASE_EXPAND) == PGPHASE_PHASE_EXPAND) {
		struct pgphase_error e2 = PGPHASE_ERROR_INIT;

		undo = undo_for(ctx, in->node, &e2); /* no undo is not an error: DOWN covers it */
		pgphase_error_release(&e2);
	}
	plan_add(ctx, NULL, in, PGPHASE_PHASE_EXPAND, none ? PGPHASE_TXN_NONE : PGPHASE_TXN_GROUP,
		 sql, undo);
	return 0;
}

/* ---- the linter's question: which strategy makes this statement safe ------------------- */

/* The strategy for one (possibly split) statement: its name and its last step's phase. */
static bool strategy_one(struct plan_ctx *ctx, const struct strategy_input *in, const char **name,
			 enum pgphase_phase *phase_out)
{
	if (plan_runs_as_written(ctx, in))
		return false; /* e.g. one sub-command on a column added earlier */
	for (const struct pgphase_strategy *const *s = pgphase_strategies; *s; s++) {
		enum pgphase_phase phase;

		if (!(*s)->matches(ctx, in))
			continue;
		phase = (*s)->last_phase(in);
		if (!*name)
			*name = (*s)->name;
		if (phase > *phase_out)
			*phase_out = phase;
		return true;
	}
	return false;
}

bool pgphase_plan_strategy_for(const struct pgphase_migration *m, const PgQuery__Node *node,
			       const struct pgphase_stmt_note *note, int line, int column,
			       int pg_version, const char **name, enum pgphase_phase *phase)
{
	const struct pgphase_stmt *stmt = NULL;
	struct pgphase_stmt_note none_note = { 0 };
	struct pgphase_plan scratch;
	struct plan_ctx ctx;
	struct strategy_input in;
	bool found = false;

	*name = NULL;
	*phase = PGPHASE_PHASE_NONE;
	if (!m || !node || (note && note->as_is))
		return false;
	{
		/* statements are in file order: find this one by its position */
		size_t lo = 0, hi = m->up.sql.n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const struct pgphase_stmt *st = &m->up.sql.stmts[mid];

			if (st->line < line || (st->line == line && st->column < column))
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < m->up.sql.n && m->up.sql.stmts[lo].node == node)
			stmt = &m->up.sql.stmts[lo];
		for (size_t i = 0; !stmt && i < m->up.sql.n; i++)
			if (m->up.sql.stmts[i].node == node) /* position differs: search */
				stmt = &m->up.sql.stmts[i];
		if (!stmt)
			return false;
		in.origin = (size_t)(stmt - m->up.sql.stmts);
	}
	in.node = node;
	in.stmt = stmt;
	in.note = note ? note : &none_note;
	memset(&ctx, 0, sizeof(ctx));
	memset(&scratch, 0, sizeof(scratch));
	scratch.migration = m;
	scratch.arena = pgphase_arena_new(); /* for what matches() asks the catalog model */
	ctx.plan = &scratch;
	ctx.arena = scratch.arena;
	ctx.m = m;
	ctx.opts.pg_version = pg_version;
	if (!plan_runs_as_written(&ctx, &in)) {
		const PgQuery__Node *n = in.node;

		if (n->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT &&
		    n->alter_table_stmt->n_cmds > 1) {
			/* the planner splits such a statement: ask about each sub-command */
			struct sql_alter_part *parts;
			size_t n_parts = sql_alter_split(n, NULL, 0, &parts);

			for (size_t k = 0; k < n_parts; k++) {
				struct strategy_input sub = in;

				sub.node = &parts[k].node;
				found = strategy_one(&ctx, &sub, name, phase) || found;
			}
			free(parts);
		} else {
			found = strategy_one(&ctx, &in, name, phase);
		}
	}
	pgphase_plan_release(&scratch);
	plan_ctx_release(&ctx);
	return found;
}
