/*
 * Planner internals shared by src/plan*.c: the per-migration planning context.  Strategies
 * see it only as an opaque struct plan_ctx through strategies/strategy.h.  Everything the
 * planner allocates comes from the plan's arena.
 */
#ifndef PGPHASE_PLAN_INT_H
#define PGPHASE_PLAN_INT_H

#include "strategies/strategy.h"

/* A statement parsed for the planner (its tree has its own arena), kept until the end. */
struct plan_parsed {
	struct pgphase_sql sql;
	struct plan_parsed *next;
};

struct plan_ctx {
	struct pgphase_plan *plan;
	const struct pgphase_migration *m;
	struct pgphase_plan_options opts;
	struct pgphase_arena *arena; /* the plan's: strings, answers and scratch */
	struct plan_parsed *parsed;  /* in the arena; their trees released at the end */
};

/* Release the parsed statements (the arena goes with the plan). */
void plan_ctx_release(struct plan_ctx *ctx);

/*
 * Grow an arena array v of *cap elements of elem bytes to hold need (GROW for arenas: the
 * old copy stays in the arena until the plan is released).  Returns the array.
 */
void *plan_grow(struct plan_ctx *ctx, void *v, size_t *cap, size_t need, size_t elem);

/* The relation a statement works on (the table of ALTER/INDEX/UPDATE/...), or NULL. */
const PgQuery__RangeVar *plan_stmt_relation(const PgQuery__Node *node);

/*
 * Check the finished plan for statements that depend on an object the migration creates only
 * in a later step (e.g. a CONTRACT statement using a table created after it).  Exit 2.
 */
int plan_check_dependencies(struct plan_ctx *ctx, struct pgphase_error *err);

/* The as-written fallback: expand (or the marked phase), txn or none. */
int plan_as_written(struct plan_ctx *ctx, const struct strategy_input *in,
		    struct pgphase_error *err);

#endif
