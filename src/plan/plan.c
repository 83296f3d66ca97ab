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
	if (!plan_runs_as_written(ctx, in)) {
		for (const struct pgphase_strategy *const *s = pgphase_strategies; *s; s++)
			if ((*s)->matches(ctx, in))
				return (*s)->plan(ctx, in, err);
	} else if (is_data_change(in->node) &&
		   !plan_is_new_table(ctx, plan_stmt_relation(in->node), in->origin) &&
		   plan_reads_temp_table(ctx, in->node, in->origin)) {
		/* a data change on an existing table that could have been batched */
		return plan_as_written_because(ctx, in, "not batched: it uses a temporary table of "
					       "the migration, which exists only in the "
					       "migration's own session", err);
	}
	return plan_as_written(ctx, in, err);
}

/*
 * The object an ALTER TABLE sub-command adds or drops ("c" column, "k" constraint) and its
 * name, or NULL for a sub-command that only changes one.
 */
static const char *added_or_dropped(const PgQuery__AlterTableCmd *c, char *kind)
{
	switch (c->subtype) {
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
		*kind = 'c';
		return c->def && c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF
			       ? c->def->column_def->colname : NULL;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
		*kind = 'c';
		return c->name;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
		*kind = 'k';
		return c->def && c->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT
			       ? c->def->constraint->conname : NULL;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint:
		*kind = 'k';
		return c->name;
	default:
		return NULL;
	}
}

/*
 * A sub-command that drops or adds a column or constraint another sub-command of the same
 * statement also names (`DROP COLUMN x, ADD COLUMN x …`, `DROP CONSTRAINT k, ADD CONSTRAINT
 * k …`: Prisma writes these): split, the drop would move to contract behind the re-creation.
 * Its name, or NULL.  Quadratic in the sub-commands of one statement only.
 */
static const char *readded_name(const PgQuery__AlterTableStmt *a)
{
	for (size_t i = 0; i < a->n_cmds; i++) {
		char ki = 0, kj = 0;
		const char *ni = a->cmds[i]->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD
					 ? added_or_dropped(a->cmds[i]->alter_table_cmd, &ki) : NULL;

		if (!ni || !ni[0])
			continue;
		for (size_t j = i + 1; j < a->n_cmds; j++) {
			const PgQuery__AlterTableCmd *c = a->cmds[j]->node_case ==
								  PG_QUERY__NODE__NODE_ALTER_TABLE_CMD
							  ? a->cmds[j]->alter_table_cmd : NULL;
			const char *nj = c ? added_or_dropped(c, &kj) : NULL;

			if (nj && ki == kj && strcmp(ni, nj) == 0)
				return ni;
		}
	}
	return NULL;
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
	{
		const char *again = readded_name(n->alter_table_stmt);

		if (again)
			return plan_as_written_because(ctx, in, arena_printf(ctx->arena,
				"its sub-commands drop and add \"%s\" again: they keep their order, "
				"as written", again), err);
	}
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

/*
 * Steps run by (phase, stage), statement order kept inside each: a stable counting sort over
 * the few (phase, stage) pairs, linear in the steps.
 */
static void sort_steps(struct pgphase_plan *plan)
{
	enum { N_POS = 4 * 3 };
	size_t at[N_POS + 1] = { 0 };
	struct pgphase_step *sorted;

	if (plan->n < 2)
		return;
	for (size_t i = 0; i < plan->n; i++)
		at[plan->steps[i].phase * 3 + plan->steps[i].stage + 1]++;
	for (size_t p = 0; p < N_POS; p++)
		at[p + 1] += at[p];
	sorted = xmalloc(plan->n * sizeof(*sorted));
	for (size_t i = 0; i < plan->n; i++)
		sorted[at[plan->steps[i].phase * 3 + plan->steps[i].stage]++] = plan->steps[i];
	memcpy(plan->steps, sorted, plan->n * sizeof(*sorted));
	free(sorted);
}

int plan_as_written_because(struct plan_ctx *ctx, const struct strategy_input *in,
			    const char *reason, struct pgphase_error *err)
{
	size_t first = ctx->plan->n;

	if (ctx->strict) {
		plan_fail(ctx, in, err, "strict: this statement would run as written, without "
			  "pgphase's safer rewrite: %s", reason);
		pgphase_error_hint(err, "change the statement or the migration so it can be made "
					"safe, put \"-- pgphase:as-is\" before it to accept it as "
					"written, or plan without strict");
		return -1;
	}
	if (plan_as_written(ctx, in, err) < 0)
		return -1;
	for (size_t k = first; k < ctx->plan->n; k++)
		ctx->plan->steps[k].reason = arena_strdup(ctx->arena, reason);
	return 0;
}

size_t plan_step_count(struct plan_ctx *ctx)
{
	return ctx->plan->n;
}

void plan_mark_offline(struct plan_ctx *ctx, size_t first, bool offline)
{
	for (size_t k = first; k < ctx->plan->n; k++)
		ctx->plan->steps[k].reason_offline = offline;
}

int plan_pinned(struct plan_ctx *ctx, size_t i, const char *reason, struct pgphase_error *err)
{
	const struct pgphase_section *up = &ctx->m->up;
	struct strategy_input in = { up->sql.stmts[i].node, &up->sql.stmts[i], &up->notes[i], i };

	return plan_as_written_because(ctx, &in, reason, err);
}

int pgphase_plan_migration(struct pgphase_plan *plan, const struct pgphase_migration *m,
			   const struct pgphase_plan_options *opts, struct pgphase_error *err)
{
	const struct pgphase_section *up = &m->up;
	struct pgphase_txn_role *roles = NULL;
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
	ctx.strict = ctx.opts.strict ||
		     (ctx.opts.session && ctx.opts.session->cfg && ctx.opts.session->cfg->strict);
	ctx.span_first = arena_alloc(ctx.arena, (up->sql.n + 1) * sizeof(*ctx.span_first));
	ctx.span_n = arena_alloc(ctx.arena, (up->sql.n + 1) * sizeof(*ctx.span_n));
	ctx.pinned = arena_alloc(ctx.arena, (up->sql.n + 1) * sizeof(*ctx.pinned));
	if (pgphase_sql_txn_roles(&up->sql, up->file, &roles, err) < 0)
		goto cleanup;
	for (size_t i = 0; i < up->sql.n; i++) {
		const struct pgphase_stmt *stmt = &up->sql.stmts[i];
		struct strategy_input in = { stmt->node, stmt, &up->notes[i], i };

		ctx.span_first[i] = plan->n;
		ctx.span_n[i] = 0;
		ctx.pinned[i] = false;
		if (stmt->transaction_control && m->no_transaction) {
			pgphase_error_at(err, PGPHASE_EXIT_USAGE, "transaction-control", up->file,
					 stmt->line, stmt->column,
					 "transaction control statement in a -- pgphase:no-transaction "
					 "migration: %s", stmt->sql);
			pgphase_error_hint(err, "a no-transaction migration runs each statement on "
						"its own; drop the directive to run the file in one "
						"transaction (BEGIN ... COMMIT blocks are accepted there)");
			goto cleanup;
		}
		if (roles[i].kind == PGPHASE_TXN_ROLE_BOUNDARY)
			continue; /* pgphase's own transaction is the file's */
		if (up->notes[i].phase == PGPHASE_PHASE_BACKFILL && !is_data_change(stmt->node)) {
			plan_fail(&ctx, &in, err, "%s in a BACKFILL section: the backfill phase only "
				  "changes data", pgphase_node_kind(stmt->node));
			pgphase_error_hint(err, "move schema changes under \"-- EXPAND\" or "
						"\"-- CONTRACT\"; BACKFILL holds UPDATE, DELETE and "
						"INSERT ... SELECT");
			goto cleanup;
		}
		if (roles[i].kind == PGPHASE_TXN_ROLE_INSIDE) {
			/* the file made these atomic together: phases must not pull them apart */
			ctx.pinned[i] = true;
			if (plan_as_written_because(&ctx, &in, arena_printf(ctx.arena, "inside the "
						    "file's BEGIN ... COMMIT block (line %d): its "
						    "statements run together, as written",
						    roles[i].begin_line), err) < 0)
				goto cleanup;
		} else if (plan_statement(&ctx, &in, err) < 0) {
			goto cleanup;
		}
		ctx.span_n[i] = plan->n - ctx.span_first[i];
	}
	if (plan_order(&ctx, err) < 0 || plan_check_renamed_tables(&ctx, err) < 0)
		goto cleanup;
	sort_steps(plan);
	rc = 0;
cleanup:
	free(roles);
	plan_state_finish(&ctx);
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

char **pgphase_plan_fallbacks(const struct pgphase_migration *m, int pg_version)
{
	struct pgphase_plan_options opts = { pg_version, NULL, NULL, NULL };
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_plan plan;
	char **reasons;

	if (!m || m->up.sql.n == 0 || pgphase_plan_migration(&plan, m, &opts, &err) < 0) {
		pgphase_error_release(&err);
		return NULL;
	}
	reasons = xcalloc(m->up.sql.n, sizeof(*reasons));
	for (size_t i = 0; i < plan.n; i++) {
		const struct pgphase_step *st = &plan.steps[i];

		if (st->reason && !st->reason_offline && st->origin < m->up.sql.n &&
		    !reasons[st->origin])
			reasons[st->origin] = xstrdup(st->reason);
	}
	pgphase_plan_release(&plan);
	return reasons;
}

void pgphase_plan_fallbacks_free(char **reasons, size_t n)
{
	for (size_t i = 0; reasons && i < n; i++)
		free(reasons[i]);
	free(reasons);
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
