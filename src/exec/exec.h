/*
 * The executor, as the run layer calls it: src/exec/exec.c runs a plan phase by phase,
 * src/exec/exec_steps.c the steps that manage their own transactions.  Knows nothing of
 * which migrations a command picks (src/run/).
 */
#ifndef PGPHASE_EXEC_H
#define PGPHASE_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "pgphase/plan.h"
#include "pgphase/state.h"

struct exec_ctx {
	struct pgphase_session *s;
	const struct pgphase_migration *m;
	const struct pgphase_plan *plan;
	enum pgphase_phase through;        /* last phase to run */
	enum pgphase_mstate state;         /* state as committed so far */
	enum pgphase_phase finished_through;
	int64_t migration_start_us, phase_start_us;
	size_t *steps_done;                /* incremented per executed step (the run report) */
	const char *key;            /* --key: backfill key override, or NULL */
	long long backfill_rows;    /* rows changed by this migration's backfill steps */
	long long backfill_swept;   /* ... of them skipped while locked, swept afterwards */
	long long backfill_batches; /* batches those steps took */
	char (*fp)[65];             /* the plan's step fingerprints (exec_plan), or NULL */
};

/* Where a migration's rerun starts (src/exec/exec_resume.c). */
struct exec_resume {
	enum pgphase_phase phase; /* phase in progress, or NONE: the next unfinished one from 0 */
	int next_step;            /* steps of that phase already done */
	bool reset_backfill;      /* the step at the resume point changed since it started:
	                             forget backfill progress from resume_index on */
	size_t resume_index;      /* plan index of the step at the resume point */
};

/*
 * Decide where the plan of a migration resumes given its state row (NULL: from the start).
 * When the file changed since the row was written, the steps that already ran must be an
 * unchanged prefix of the plan (by fingerprint); anything else fails with exit 2 listing
 * each step that changed, vanished or was inserted before the resume point (file:line,
 * phase, step).  Never changes anything; warn says so on stderr when the file changed.
 */
int exec_resume_point(const struct pgphase_plan *plan, const struct pgphase_state_row *row,
		      bool warn, struct exec_resume *rp, struct pgphase_error *err);

/* The fingerprint (hex SHA-256) of every step of plan: its phase, kind, strategy, rank
 * among its statement's steps and the statement's text.  malloc'd array of plan->n. */
char (*exec_fingerprints(const struct pgphase_plan *plan))[65];

/* Run the plan from where row says it stopped (row NULL: from the start). */
int exec_plan(struct exec_ctx *x, const struct pgphase_state_row *row, struct pgphase_error *err);

/*
 * Run step i, which manages its own transactions (src/exec/exec_steps.c): autocommit SQL with
 * lock-timeout retries, an index build with its validity check, a keyset-batched backfill
 * loop, or a NULL count.  Progress around it is the caller's.
 */
int exec_step_run(struct exec_ctx *x, size_t i, struct pgphase_error *err);

/* Run sql (a step's, or its undo) outside a transaction, retrying lock timeouts within the
 * budget; a failure becomes the step's error (exec_step_error). */
int exec_retrying(struct exec_ctx *x, const struct pgphase_step *st, const char *sql,
		  struct pgphase_error *err);

/* The INDEX step: build CONCURRENTLY IF NOT EXISTS, check the name holds this index and that
 * it is valid, rebuild an INVALID one a bounded number of times (src/exec/exec_index.c). */
int exec_index_run(struct exec_ctx *x, const struct pgphase_step *st, struct pgphase_error *err);

/* Sleep for a full-jitter exponential backoff; false when lock_retry_budget is spent or the
 * run was interrupted. */
bool exec_backoff(struct exec_ctx *x, int attempt, int64_t started_us);

/* The step's error after its last lock timeout, saying why the retries stopped: interrupted,
 * or the retry budget spent (attempts, seconds).  Returns -1. */
int exec_lock_gave_up(struct exec_ctx *x, const struct pgphase_step *st, int attempts,
		      int64_t started_us, struct pgphase_error *err);

/* Turn the session's last query failure into "file:line:col: <server message>". */
int exec_step_error(struct pgphase_session *s, const struct pgphase_step *st,
		    struct pgphase_error *err);

/*
 * Run backfill step index of x->plan through the engine.  Also used on its own by
 * `backfill --join`, where another runner owns the migration's state.
 */
int exec_backfill_step(struct exec_ctx *x, const struct pgphase_step *st, size_t index,
		       struct pgphase_error *err);

#endif
