/*
 * Running migrations: migrate (all phases of each pending migration, or up to one phase for
 * expand/backfill/contract) and rollback.  The caller opens the session and takes the run
 * lock; these functions check checksums, plan, and execute with state committed together
 * with each step.
 */
#ifndef PGPHASE_RUN_H
#define PGPHASE_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pgphase/migration.h"
#include "pgphase/session.h"
#include "pgphase/state.h"

struct pgphase_run_options {
	bool to_set;
	int64_t to;                  /* migrate: last version to apply; rollback: keep <= to */
	enum pgphase_phase through;  /* last phase to run; CONTRACT for migrate */
	bool dry_run;                /* print the plan to out, change nothing */
	FILE *out;                   /* product output for dry runs (stdout) */
	long steps;                  /* rollback: how many migrations (default 1) */
};

struct pgphase_run_report {
	size_t migrations; /* migrations applied / rolled back (or planned in a dry run) */
	size_t steps;      /* steps executed */
};

/*
 * Refuse (exit 2) when an applied or in-progress migration's file changed or vanished.
 * The message names the first file; the detail lists every one.
 */
int pgphase_check_checksums(const struct pgphase_migration_set *set,
			    const struct pgphase_state *state, struct pgphase_error *err);

int pgphase_migrate(struct pgphase_session *s, struct pgphase_migration_set *set,
		    const struct pgphase_run_options *opts, struct pgphase_run_report *rep,
		    struct pgphase_error *err);

int pgphase_rollback(struct pgphase_session *s, struct pgphase_migration_set *set,
		     const struct pgphase_run_options *opts, struct pgphase_run_report *rep,
		     struct pgphase_error *err);

#endif
