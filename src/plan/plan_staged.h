/*
 * Staged runs across migrations (src/plan/plan_staged.c): does a later migration's expand or
 * backfill depend on an earlier migration's contract steps that will not have run?  Used by
 * the run layer (expand, backfill, plan) before the first change.
 */
#ifndef PGPHASE_PLAN_PLAN_STAGED_H
#define PGPHASE_PLAN_PLAN_STAGED_H

#include "pgphase/plan.h"

struct plan_staged;

struct plan_staged *plan_staged_new(struct pgphase_session *session);
void plan_staged_free(struct plan_staged *s);
/*
 * Check plan's steps of the phases after done up to through (expand, backfill), and their
 * statements, against the pending steps of the plans added before.  Returns NULL when
 * independent, else the reason in words, *earlier the file of the earlier migration and
 * *phase the phase of its step that must run first (strings live as long as s).
 */
const char *plan_staged_needs(struct plan_staged *s, const struct pgphase_plan *plan,
			      enum pgphase_phase done, enum pgphase_phase through,
			      const char **earlier, enum pgphase_phase *phase);
/* Remember plan's steps of the phases after `after`: they have not run when the later
 * migrations of the run run theirs. */
void plan_staged_add_pending(struct plan_staged *s, const struct pgphase_plan *plan,
			     enum pgphase_phase after);

#endif
