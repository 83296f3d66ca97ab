/*
 * What to do next, from the state rows: the staged-deploy order is expand → backfill →
 * deploy the new app → retire the old app → contract.  The new app version may only go out
 * after backfill (before it, the new columns are NULL on existing rows), and contract drops
 * what the old version still reads, so every old instance must be gone first.  The phase
 * commands print this after they succeed and `status` shows it; the decision lives here so
 * both say the same.  It reads the state only and changes nothing.
 */
#include <string.h>

#include "pgphase/run.h"

static const struct pgphase_next_step NEXT[] = {
	[PGPHASE_NEXT_UP_TO_DATE] = { PGPHASE_NEXT_UP_TO_DATE, "up-to-date", NULL,
				      "nothing to do: every migration is complete", NULL },
	[PGPHASE_NEXT_RESUME] = { PGPHASE_NEXT_RESUME, "resume", NULL,
				  "a migration stopped inside a phase: fix the cause, then rerun the "
				  "command that failed (it resumes at the failed step), or undo it",
				  "pgphase rollback" },
	[PGPHASE_NEXT_BACKFILL] = { PGPHASE_NEXT_BACKFILL, "backfill", "pgphase backfill",
				    "fill the new columns and validate constraints; the old app keeps "
				    "working. Do not deploy the new app yet: existing rows are not "
				    "filled", NULL },
	[PGPHASE_NEXT_DEPLOY] = { PGPHASE_NEXT_DEPLOY, "deploy", "pgphase contract",
				  "deploy the new app version, then retire every instance of the old "
				  "one; only then contract (it drops what the old app still uses)",
				  NULL },
	[PGPHASE_NEXT_EXPAND] = { PGPHASE_NEXT_EXPAND, "expand", "pgphase expand",
				  "pending migrations: start a staged deploy with expand (or apply "
				  "them in one go with migrate when no old app runs beside the new "
				  "one)", "pgphase migrate" },
};

const struct pgphase_next_step *pgphase_next_step(const struct pgphase_migration_set *set,
						  const struct pgphase_state *state)
{
	bool stopped = false, expanded = false, backfilled = false, pending = false;

	for (size_t i = 0; i < state->n; i++) {
		const struct pgphase_state_row *row = &state->rows[i];

		if (row->current_phase != PGPHASE_PHASE_NONE ||
		    (row->last_error && row->state != PGPHASE_STATE_COMPLETE))
			stopped = true;
		else if (row->state == PGPHASE_STATE_EXPANDED)
			expanded = true;
		else if (row->state == PGPHASE_STATE_BACKFILLED)
			backfilled = true;
		else if (row->state == PGPHASE_STATE_PENDING)
			pending = true;
	}
	for (size_t i = 0; set && i < set->n && !pending; i++)
		pending = pgphase_state_find(state, set->items[i].version) == NULL;
	/* the earliest unfinished stage first: contract waits for every backfill */
	if (stopped)
		return &NEXT[PGPHASE_NEXT_RESUME];
	if (expanded)
		return &NEXT[PGPHASE_NEXT_BACKFILL];
	if (backfilled)
		return &NEXT[PGPHASE_NEXT_DEPLOY];
	if (pending)
		return &NEXT[PGPHASE_NEXT_EXPAND];
	return &NEXT[PGPHASE_NEXT_UP_TO_DATE];
}
