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
	bool contract_only;          /* contract: refuse migrations whose backfill is not done */
	const char *key;             /* --key col[,col]: backfill key override, or NULL */
	bool join;                   /* backfill --join: help another runner's backfill (no run
	                                lock, no state or events: only the engine's chunks) */
	const char *state_schema;    /* plan without a session: the configured state schema
	                                (NULL: "pgphase"); with one, the session's */
	bool strict;                 /* plan without a session: the configured strict */
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

/*
 * Print the plan of pending work (every migration not complete, up to --to) without changing
 * anything.  s NULL plans offline: every migration file, no catalog.  json prints
 * {"migrations":[...]} (see pgphase_plan_json).
 */
int pgphase_plan_show(struct pgphase_session *s, struct pgphase_migration_set *set,
		      const struct pgphase_run_options *opts, bool json, FILE *out,
		      struct pgphase_error *err);

/*
 * Roll back the newest migrations.  A complete migration runs its DOWN section.  One that is
 * expanded or backfilled (or stopped inside a phase) is undone by the inverse of the expand
 * steps that ran, newest first (what expand added is dropped, indexes CONCURRENTLY, triggers
 * and shadow columns removed); when some expand step has no inverse, its DOWN section runs.
 */
int pgphase_rollback(struct pgphase_session *s, struct pgphase_migration_set *set,
		     const struct pgphase_run_options *opts, struct pgphase_run_report *rep,
		     struct pgphase_error *err);

/*
 * The next step of a staged deploy, from the state (src/run/next_step.c): a migration
 * stopped inside a phase, then expanded ones (backfill), then backfilled ones (deploy the
 * new app, retire the old one, contract), then pending ones (expand).  Static storage.
 */
enum pgphase_next {
	PGPHASE_NEXT_UP_TO_DATE,
	PGPHASE_NEXT_RESUME,
	PGPHASE_NEXT_BACKFILL,
	PGPHASE_NEXT_DEPLOY,
	PGPHASE_NEXT_EXPAND,
};

struct pgphase_next_step {
	enum pgphase_next kind;
	const char *name;    /* "up-to-date", "resume", "backfill", "deploy", "expand" */
	const char *command; /* the pgphase command to run next, or NULL */
	const char *text;    /* one sentence for people */
	const char *or_else; /* an alternative command, or NULL */
};

const struct pgphase_next_step *pgphase_next_step(const struct pgphase_migration_set *set,
						  const struct pgphase_state *state);

#endif
