/*
 * Private side of the run layer: checks the commands share before the first change.
 */
#ifndef PGPHASE_RUN_RUN_H
#define PGPHASE_RUN_RUN_H

#include <stdbool.h>
#include <stdio.h>

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
	bool restore;                    /* a backfill data change: its old values go back */
	int index;                       /* restore: the step's index in the plan */
};
struct run_undo {
	struct run_undo_item *items; /* in the order the steps ran: undo from the last */
	size_t n;
	bool restored; /* the restores of its items ran already */
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

/* ---- run_restore.c: old values of a backfill data change put back ---- */
struct exec_ctx;
/*
 * Before anything changes: exit 2 when the backfill of it->step ran without recording its
 * old values (a pgphase before undo_rows); 0 otherwise.
 */
int run_restore_check(struct pgphase_session *s, const struct pgphase_migration *m,
		      const struct run_undo_item *it, struct pgphase_error *err);
/* Put back the recorded old values, in key-ordered batches, each its own transaction. */
int run_restore(struct exec_ctx *x, const struct run_undo_item *it, struct pgphase_error *err);
/* --dry-run: the batch statement run_restore repeats (needs the database to build it). */
int run_restore_print(struct pgphase_session *s, const struct pgphase_migration *m,
		      const struct run_undo_item *it, FILE *out, struct pgphase_error *err);

#endif
