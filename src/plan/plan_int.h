/*
 * Planner internals shared by src/plan*.c: the per-migration planning context.  Strategies
 * see it only as an opaque struct plan_ctx through strategies/strategy.h.
 */
#ifndef PGPHASE_PLAN_INT_H
#define PGPHASE_PLAN_INT_H

#include "strategies/strategy.h"

struct plan_ctx {
	struct pgphase_plan *plan;
	const struct pgphase_migration *m;
	struct pgphase_plan_options opts;
	struct pgphase_sql *parsed; /* statements parsed for the planner, freed at the end */
	size_t n_parsed, cap_parsed;
	char **strings;             /* strings handed out to strategies, freed at the end */
	size_t n_strings, cap_strings;
	char ***keys;               /* key lists handed out, freed at the end */
	size_t n_keys, cap_keys;
};

/* Remember s (malloc'd) until the plan is done; returns s. */
char *plan_keep(struct plan_ctx *ctx, char *s);
/* Free everything kept. */
void plan_ctx_release(struct plan_ctx *ctx);

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
