/*
 * Private side of the state tables: writing rows and events.  Every write that finishes a
 * step is meant to run inside the step's own transaction, so state and changes commit
 * together.
 */
#ifndef PGPHASE_STATE_PRIV_H
#define PGPHASE_STATE_PRIV_H

#include "pgphase/state.h"

/* tmpl with every "@S@" replaced by the quoted state schema (malloc'd). */
char *state_sql(struct pgphase_session *s, const char *tmpl);

/* What to write for one migration. */
struct state_update {
	enum pgphase_mstate state;
	enum pgphase_phase current_phase; /* NONE when no phase is in progress */
	int next_step;
	unsigned started_mask;   /* phases (1 << phase) whose started_at to set if unset */
	unsigned finished_mask;  /* phases whose finished_at to set */
	const char *last_error;  /* NULL clears */
	struct pgphase_event *events;
	size_t n_events;
	/* identities of steps that committed (done) or are about to start, upserted in the
	 * same statement; ignored when state is complete, which drops the migration's records */
	const struct pgphase_step_record *steps;
	size_t n_steps;
};

/* Upsert the migration's row and append events, in one statement. */
int state_write(struct pgphase_session *s, const struct pgphase_migration *m,
		const struct state_update *u, struct pgphase_error *err);
/* Record a failure: update last_error on an existing row (never creates one) and append the
 * event.  Runs in its own transaction. */
int state_write_failure(struct pgphase_session *s, const struct pgphase_migration *m,
			const struct pgphase_event *ev, struct pgphase_error *err);
/* Forget the backfill progress of the migration's steps from step (plan index) on: the step
 * that was running when the last attempt failed changed since. */
int state_reset_backfill(struct pgphase_session *s, const struct pgphase_migration *m,
			 size_t step, struct pgphase_error *err);
/* Delete the row (rollback) and append events, in one statement. */
int state_delete(struct pgphase_session *s, const struct pgphase_migration *m,
		 const struct pgphase_event *events, size_t n, struct pgphase_error *err);

#endif
