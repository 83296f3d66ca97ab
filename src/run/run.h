/*
 * Private side of the run layer: checks the commands share before the first change.
 */
#ifndef PGPHASE_RUN_RUN_H
#define PGPHASE_RUN_RUN_H

#include <stdbool.h>

#include "pgphase/plan.h"
#include "pgphase/run.h"
#include "pgphase/state.h"

/* --to names a known version (rollback: 0 allowed with allow_zero)?  Exit 2 otherwise. */
int run_check_to(const struct pgphase_migration_set *set, const struct pgphase_state *state,
		 const struct pgphase_run_options *o, bool allow_zero, struct pgphase_error *err);

/* One undo of a migration that is not complete (run_undo.c). */
struct run_undo_item {
	const struct pgphase_step *step; /* its undo_sql runs */
	bool if_invalid;                 /* only when its index is there and INVALID */
};
struct run_undo {
	struct run_undo_item *items; /* in the order the steps ran: undo from the last */
	size_t n;
};
/*
 * What undoes m, which row says is not complete, given its plan: the undo of every step that
 * ran (or may have started), or exit 2 naming the first step that ran and cannot be undone
 * (a data change of rows that existed before, a statement without inverse, contract begun).
 */
int run_undo_plan(const struct pgphase_migration *m, const struct pgphase_plan *plan,
		  const struct pgphase_state_row *row, struct run_undo *u, struct pgphase_error *err);
void run_undo_release(struct run_undo *u);
/* Should the item's undo run now (its INVALID index check)? */
int run_undo_wanted(struct pgphase_session *s, const struct run_undo_item *it, bool *want,
		    struct pgphase_error *err);

#endif
