/*
 * The linter's question to the planner: which strategy makes this hazard safe, and in which
 * phase does the statement run?  pgphase lints what it will run, so this hook
 * (pgphase_lint_options.strategy) asks the planner itself, offline, for the PostgreSQL
 * version the lint targets.  DOWN sections are never rewritten (a rollback runs them as
 * written), so the planner is not asked about them.
 */
#include "lint/lint.h"
#include "pgphase/plan.h"

bool pgphase_lint_planner(void *arg, const struct pgphase_lint_stmt_info *info,
			  struct pgphase_lint_strategy *out)
{
	(void)arg;
	out->name = NULL;
	out->phase = PGPHASE_PHASE_NONE;
	if (info->down)
		return false;
	return pgphase_plan_strategy_for(info->migration, info->node, info->note, info->line,
					 info->column, info->pg_version, &out->name, &out->phase);
}
