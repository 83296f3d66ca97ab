/*
 * The planner.  Each UP statement goes to the first strategy of the registry
 * (strategies/registry.c) that matches it; a statement no strategy handles, a statement
 * under -- pgphase:as-is, and any statement on a table created earlier in the same migration
 * run as written (src/plan/plan_write.c).  An ALTER TABLE with several sub-commands is split into
 * one statement per sub-command when a strategy wants one of them, so each gets its rewrite.
 *
 * Steps then run phase by phase: within a phase, prechecks first (stage 0), then changes in
 * statement order (stage 1), then validations (stage 2: VALIDATE CONSTRAINT runs at the end
 * of the backfill phase, after the data changes it depends on).
 *
 * Input errors are found here, before anything changes: a file's own BEGIN/COMMIT (pgphase
 * owns transaction boundaries, because it commits the state row with the changes), DDL in a
 * BACKFILL section, and ordering problems (src/plan/plan_deps.c).
 *
 * Memory: a plan owns one arena.  Every string its steps hold and everything the planner and
 * the strategies allocate while planning come from it, and pgphase_plan_release() frees it
 * at once with the steps array; only the trees parsed for the planner (their own arenas) and
 * the cache of CREATE TABLE statements on the migration are released on their own.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pgphase/backfill.h"
#include "plan/plan_int.h"
#include "base/util.h"

const char *pgphase_txn_mode_name(enum pgphase_txn_mode t)
{
	switch (t) {
	case PGPHASE_TXN_OWN:
		return "own";
	case PGPHASE_TXN_NONE:
		return "none";
	default:
		return "txn";
	}
}

const char *pgphase_step_kind_name(enum pgphase_step_kind k)
{
	static const char *const names[] = { "sql", "index", "backfill", "check-nulls" };

	return names[k];
}

enum pgphase_phase plan_phase(const struct strategy_input *in, enum pgphase_phase dflt)
{
	return in->note && in->note->phase != PGPHASE_PHASE_NONE ? in->note->phase : dflt;
}

enum pgphase_phase plan_phase_raised(const struct strategy_input *in, enum pgphase_phase dflt)
{
	return in->note && in->note->phase > dflt ? in->note->phase : dflt;
}

const struct pgphase_plan_options *plan_options(struct plan_ctx *ctx)
{
	return &ctx->opts;
}

struct pgphase_arena *plan_arena(struct plan_ctx *ctx)
{
	return ctx->arena;
}

void *plan_grow(struct plan_ctx *ctx, void *v, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 8;
	void *grown;

	if (need <= *cap)
		return v;
	while (n < need)
		n *= 2;
	grown = arena_alloc(ctx->arena, n * elem);
	if (*cap)
		memcpy(grown, v, *cap * elem);
	*cap = n;
	return grown;
}

struct pgphase_step *plan_add(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			      const struct strategy_input *in, enum pgphase_phase dflt_phase,
			      enum pgphase_txn_mode txn, const char *sql, const char *undo_sql)
{
	struct pgphase_plan *plan = ctx->plan;
	struct pgphase_step *st;

	GROW(plan->steps, plan->cap, plan->n + 1);
	st = &plan->steps[plan->n++];
	memset(st, 0, sizeof(*st));
	/* a marker moves every step at least to its phase; single-phase strategies pass
	   plan_phase(in, ...) as dflt_phase so the marker overrides them fully */
	st->phase = plan_phase_raised(in, dflt_phase);
	st->txn = txn;
	st->kind = PGPHASE_STEP_SQL;
	st->sql = sql;
	st->undo_sql = undo_sql;
	st->retry_lock = txn != PGPHASE_TXN_NONE;
	st->strategy = by ? by->name : "as-written";
	st->line = in->stmt->line;
	st->column = in->stmt->column;
	st->file = ctx->m->up.file;
	st->origin = in->origin;
	st->stage = 1;
	return st;
}

int plan_fail(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err,
	      const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = arena_vprintf(ctx->arena, fmt, ap);
	va_end(ap);
	pgphase_error_at(err, PGPHASE_EXIT_USAGE, "plan-error", ctx->m->up.file, in->stmt->line,
			 in->stmt->column, "%s", msg);
	return -1;
}

const PgQuery__Node *plan_parse_node(struct plan_ctx *ctx, const char *sql,
				     struct pgphase_error *err)
{
	struct plan_parsed *p = arena_alloc(ctx->arena, sizeof(*p));

	if (pgphase_sql_parse(&p->sql, sql, "<planner>", err) < 0)
		return NULL;
	p->next = ctx->parsed;
	ctx->parsed = p;
	return p->sql.n ? p->sql.stmts[0].node : NULL;
}

void plan_ctx_release(struct plan_ctx *ctx)
{
	for (struct plan_parsed *p = ctx->parsed; p; p = p->next)
		pgphase_sql_release(&p->sql);
	ctx->parsed = NULL;
}

const PgQuery__RangeVar *plan_stmt_relation(const PgQuery__Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		return n->index_stmt->relation;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		return n->alter_table_stmt->relation;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		return n->rename_stmt->relation;
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		return n->update_stmt->relation;
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		return n->delete_stmt->relation;
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		/* INSERT ... SELECT from a table is about its source: the table the backfill walks
		   (a source created earlier in this migration is new, so small: as written) */
		return pgphase_backfill_source(n) ? pgphase_backfill_source(n) : n->insert_stmt->relation;
	default:
		return NULL;
	}
}

/* DML and reads may sit in a BACKFILL section; anything else there is an input error. */
static bool is_data_change(const PgQuery__Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
	case PG_QUERY__NODE__NODE_DELETE_STMT:
	case PG_QUERY__NODE__NODE_INSERT_STMT:
	case PG_QUERY__NODE__NODE_SELECT_STMT:
	case PG_QUERY__NODE__NODE_MERGE_STMT:
		return true;
	default:
		return false;
	}
}

static int dispatch(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	if (!plan_runs_as_written(ctx, in))
		for (const struct pgphase_strategy *const *s = pgphase_strategies; *s; s++)
			if ((*s)->matches(ctx, in))
				return (*s)->plan(ctx, in, err);
	return plan_as_written(ctx, in, err);
}

/* An ALTER TABLE whose sub-commands a strategy wants one by one is planned per sub-command. */
static int plan_statement(struct plan_ctx *ctx, const struct strategy_input *in,
			  struct pgphase_error *err)
{
	const PgQuery__Node *n = in->node;
	struct sql_alter_part *parts;
	size_t n_parts;
	bool split = false;
	int rc = 0;

	if (n->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT || n->alter_table_stmt->n_cmds < 2 ||
	    in->note->as_is || plan_is_new_table(ctx, n->alter_table_stmt->relation, in->origin))
		return dispatch(ctx, in, err);
	n_parts = sql_alter_split(n, NULL, 0, &parts);
	for (size_t k = 0; k < n_parts && !split; k++) {
		struct strategy_input sub = *in;

		sub.node = &parts[k].node;
		for (const struct pgphase_strategy *const *s = pgphase_strategies; *s && !split; s++)
			split = (*s)->matches(ctx, &sub);
	}
	if (!split)
		rc = dispatch(ctx, in, err);
	for (size_t k = 0; split && k < n_parts && rc >= 0; k++) {
		struct strategy_input sub = *in;

		sub.node = &parts[k].node;
		rc = dispatch(ctx, &sub, err) < 0 ? -1 : 0;
	}
	free(parts);
	return rc;
}

static void sort_steps(struct pgphase_plan *plan)
{
	/* stable insertion sort by (phase, stage): statement order is kept inside each */
	for (size_t i = 1; i < plan->n; i++) {
		struct pgphase_step tmp = plan->steps[i];
		size_t j = i;

		while (j > 0 && (plan->steps[j - 1].phase > tmp.phase ||
				 (plan->steps[j - 1].phase == tmp.phase &&
				  plan->steps[j - 1].stage > tmp.stage))) {
			plan->steps[j] = plan->steps[j - 1];
			j--;
		}
		plan->steps[j] = tmp;
	}
}

int pgphase_plan_migration(struct pgphase_plan *plan, const struct pgphase_migration *m,
			   const struct pgphase_plan_options *opts, struct pgphase_error *err)
{
	const struct pgphase_section *up = &m->up;
	struct plan_ctx ctx;
	int rc = -1;

	memset(plan, 0, sizeof(*plan));
	memset(&ctx, 0, sizeof(ctx));
	plan->migration = m;
	plan->arena = pgphase_arena_new();
	ctx.plan = plan;
	ctx.arena = plan->arena;
	ctx.m = m;
	if (opts)
		ctx.opts = *opts;
	if (!ctx.opts.pg_version)
		ctx.opts.pg_version = 15;
	for (size_t i = 0; i < up->sql.n; i++) {
		const struct pgphase_stmt *stmt = &up->sql.stmts[i];
		struct strategy_input in = { stmt->node, stmt, &up->notes[i], i };

		if (stmt->transaction_control) {
			pgphase_error_at(err, PGPHASE_EXIT_USAGE, "transaction-control", up->file,
					 stmt->line, stmt->column,
					 "transaction control statement in a migration: %s",
					 stmt->sql);
			pgphase_error_hint(err, "pgphase runs each migration in its own transaction and "
						"commits its state with it; remove BEGIN/COMMIT, or put "
						"\"-- pgphase:no-transaction\" at the top to run each "
						"statement on its own");
			goto cleanup;
		}
		if (up->notes[i].phase == PGPHASE_PHASE_BACKFILL && !is_data_change(stmt->node)) {
			plan_fail(&ctx, &in, err, "%s in a BACKFILL section: the backfill phase only "
				  "changes data", pgphase_node_kind(stmt->node));
			pgphase_error_hint(err, "move schema changes under \"-- EXPAND\" or "
						"\"-- CONTRACT\"; BACKFILL holds UPDATE, DELETE and "
						"INSERT ... SELECT");
			goto cleanup;
		}
		if (plan_statement(&ctx, &in, err) < 0)
			goto cleanup;
	}
	if (plan_check_dependencies(&ctx, err) < 0)
		goto cleanup;
	sort_steps(plan);
	rc = 0;
cleanup:
	plan_ctx_release(&ctx);
	if (rc < 0)
		pgphase_plan_release(plan);
	return rc;
}

void pgphase_plan_release(struct pgphase_plan *plan)
{
	/* every string of the steps, their keys included, is in the arena */
	free(plan->steps);
	pgphase_arena_free(plan->arena);
	memset(plan, 0, sizeof(*plan));
}

size_t pgphase_plan_count(const struct pgphase_plan *plan, enum pgphase_phase phase)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->n; i++)
		n += plan->steps[i].phase == phase;
	return n;
}

bool pgphase_strategy_info(size_t i, const char **name, const char **summary)
{
	for (size_t k = 0; pgphase_strategies[k]; k++)
		if (k == i) {
			*name = pgphase_strategies[k]->name;
			*summary = pgphase_strategies[k]->summary;
			return true;
		}
	return false;
}
