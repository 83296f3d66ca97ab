/*
 * Private side of the run layer: checks the commands share before the first change.
 */
#ifndef PGPHASE_RUN_RUN_H
#define PGPHASE_RUN_RUN_H

#include <stdbool.h>

#include "pgphase/run.h"

/* --to names a known version (rollback: 0 allowed with allow_zero)?  Exit 2 otherwise. */
int run_check_to(const struct pgphase_migration_set *set, const struct pgphase_state *state,
		 const struct pgphase_run_options *o, bool allow_zero, struct pgphase_error *err);

#endif
