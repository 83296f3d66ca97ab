/*
 * ran-as-written: a statement pgphase would make safer — move to a later phase, batch, build
 * CONCURRENTLY — but runs as written in its place instead, because the planner could not
 * prove the safer form gives the same result (a later statement of the migration depends on
 * it, a data change it cannot batch exactly once, a temporary table, ...).  The finding says
 * why, with the planner's own reason (pgphase_plan_fallbacks), so the author can split the
 * migration or accept it.  `strict = true` turns these into plan-time refusals.
 *
 * The planner is asked once per migration (the answer is cached for the migration being
 * linted); DOWN sections, -- pgphase:as-is statements and --raw are left alone.
 */
#include "lint/lint.h"
#include "pgphase/plan.h"

static struct {
	const struct pgphase_migration *m;
	int seq;
	char **reasons;
	size_t n;
} cache;

static char **reasons_for(struct pgphase_lint_ctx *ctx)
{
	if (cache.m != ctx->m || cache.seq != ctx->mig_seq) {
		pgphase_plan_fallbacks_free(cache.reasons, cache.n);
		cache.m = ctx->m;
		cache.seq = ctx->mig_seq;
		cache.n = ctx->m->up.sql.n;
		cache.reasons = pgphase_plan_fallbacks(ctx->m, ctx->pg_version);
	}
	return cache.reasons;
}

static void check_ran_as_written(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	char **reasons;
	size_t i = st->index;

	if (st->down || st->as_is || ctx->raw || !ctx->m || !ctx->linting)
		return;
	reasons = reasons_for(ctx);
	if (!reasons)
		return;
	if (i >= cache.n || ctx->m->up.sql.stmts[i].node != st->node)
		for (i = 0; i < cache.n && ctx->m->up.sql.stmts[i].node != st->node; i++)
			;
	if (i >= cache.n || !reasons[i])
		return;
	lint_report(ctx, st, -1,
		    "split the migration so the statements that depend on each other run in "
		    "separate migrations, or accept it (-- pgphase:ignore ran-as-written); with "
		    "strict = true pgphase refuses it",
		    "pgphase cannot make this statement safer and runs it as written, in its "
		    "place: %s", reasons[i]);
}

const struct pgphase_lint_rule lint_rule_ran_as_written = {
	.id = "ran-as-written", .severity = PGPHASE_LINT_WARNING,
	.category = PGPHASE_LINT_HYGIENE,
	.summary = "a statement pgphase would make safer runs as written (the planner says why)",
	.check = check_ran_as_written,
};
