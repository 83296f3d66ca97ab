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
	bool strict;                 /* every as-written fall-back is an input error */
	/* per UP statement: its steps plan->steps[span_first[i] .. + span_n[i]] (in statement
	   order until the plan is sorted), and whether the ordering rule kept it in place */
	size_t *span_first, *span_n;
	bool *pinned;
	/* temporary tables the migration creates: name and statement index (plan_deps.c) */
	const char **temps;
	size_t *temp_at, n_temps;
	bool temps_known;
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
 * The ordering rule (src/plan/plan_deps.c): a statement whose steps a strategy moved to a
 * later phase is replanned as written in its place when a later statement (of this
 * migration or a later one) runs earlier and touches what it touches; a conflict that a
 * phase marker fixes is an input error (exit 2).  Needs the spans; keeps them current.
 */
int plan_order(struct plan_ctx *ctx, struct pgphase_error *err);
/* Statements still using a table's old name after rename-table-via-view left a view. */
int plan_check_renamed_tables(struct plan_ctx *ctx, struct pgphase_error *err);
/* Replan UP statement i as written in its place, because of reason (plan.c). */
int plan_pinned(struct plan_ctx *ctx, size_t i, const char *reason, struct pgphase_error *err);

/*
 * What a statement touches (src/plan/plan_touch.c): add(arg, key, mode) per key.  A check
 * reads rows only to verify them (a unique index build, a constraint validation, a NULL
 * count): run after a later data change it verifies the newer rows, which psql's order would
 * have refused or verified alike, so only a change running after it conflicts.
 */
enum plan_touch_mode { PLAN_TOUCH_READ, PLAN_TOUCH_WRITE, PLAN_TOUCH_CHECK };
struct plan_touch_sink {
	void (*add)(void *arg, const char *key, enum plan_touch_mode mode);
	void *arg;
	struct pgphase_arena *arena; /* keys are built here */
	bool checking;               /* every read of rows is a check (a NULL count step) */
	bool generated;              /* a strategy's own SQL: its sync triggers and helper
	                                checks change no row's fate */
};
void plan_touches(const PgQuery__Node *n, struct plan_touch_sink *sink);
/* A key in words: "the rows of \"t\"", "constraint \"c\" of \"t\"", ... */
const char *plan_touch_display(struct pgphase_arena *a, const char *key);

/* The as-written fallback: expand (or the marked phase), txn or none. */
int plan_as_written(struct plan_ctx *ctx, const struct strategy_input *in,
		    struct pgphase_error *err);

#endif
