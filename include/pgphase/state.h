/*
 * State in the database (DESIGN §8): one row per (module, version) in <state>.migrations,
 * backfill progress, and the append-only event history that is also the webhook outbox.
 */
#ifndef PGPHASE_STATE_H
#define PGPHASE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "pgphase/migration.h"
#include "pgphase/session.h"

/* Lifecycle: pending → expanded → backfilled → complete (DESIGN §6). */
enum pgphase_mstate {
	PGPHASE_STATE_PENDING = 0,
	PGPHASE_STATE_EXPANDED,
	PGPHASE_STATE_BACKFILLED,
	PGPHASE_STATE_COMPLETE,
};
const char *pgphase_mstate_name(enum pgphase_mstate st);

struct pgphase_phase_times {
	char *started_at;  /* ISO 8601 UTC or NULL */
	char *finished_at;
	long duration_ms;  /* -1 when not finished */
};

/*
 * The identity of one step that ran (or started) for an unfinished migration: a rerun after
 * the file changed matches the new plan against these (src/exec/exec_resume.c).  Steps are
 * numbered from 0 inside their phase; the fingerprint is the hex SHA-256 of the step's
 * phase, kind, strategy, rank among its statement's steps and the statement's text.
 */
struct pgphase_step_record {
	enum pgphase_phase phase;
	int step;              /* 0-based inside phase */
	char fingerprint[65];
	int line;              /* line of its statement in the file as it was */
	bool done;             /* committed; false: started (a step outside a transaction) */
};

struct pgphase_state_row {
	int64_t version;
	char *name, *file, *checksum;
	enum pgphase_mstate state;
	enum pgphase_phase current_phase; /* phase in progress (resume point), NONE when idle */
	int next_step;                    /* resume point inside current_phase */
	struct pgphase_phase_times phases[4]; /* indexed by enum pgphase_phase */
	char *applied_at;                 /* when it became complete, or NULL */
	char *last_error;                 /* NULL when the last attempt did not fail */
	char *applied_by, *applied_host, *pgphase_version;
	/* true when every step this migration ran is in steps (rows written by a pgphase
	 * older than the step records have only the position next_step) */
	bool steps_recorded;
	struct pgphase_step_record *steps; /* by phase, then step; only while not complete */
	size_t n_steps;
};

struct pgphase_state {
	struct pgphase_state_row *rows; /* ascending version */
	size_t n;
};

/* Read every row of the session's module.  Empty when the state schema does not exist. */
int pgphase_state_load(struct pgphase_session *s, struct pgphase_state *st,
		       struct pgphase_error *err);
void pgphase_state_release(struct pgphase_state *st);
struct pgphase_state_row *pgphase_state_find(const struct pgphase_state *st, int64_t version);

/* One event for the history / outbox. */
struct pgphase_event {
	const char *type;   /* "phase.completed", "phase.failed", "migration.completed", ... */
	const char *phase;  /* "expand", ... or NULL */
	const char *status; /* "succeeded" | "failed" */
	long duration_ms;   /* -1 for none */
	long long rows;     /* -1 for none */
	const char *error;  /* or NULL */
	long long rows_swept, batches; /* backfill phase only (when rows >= 0) */
};

struct pgphase_history_entry {
	char *occurred_at, *type, *phase, *status, *error, *name, *file, *run_host, *run_user;
	int64_t version;
	long duration_ms; /* -1 for none */
	long long rows;   /* -1 for none */
	char *delivery;   /* summary of webhook delivery state, or NULL */
};

/* The newest limit events of the module (0: all), returned oldest first. */
int pgphase_history_load(struct pgphase_session *s, long limit,
			 struct pgphase_history_entry **out, size_t *n, struct pgphase_error *err);
void pgphase_history_release(struct pgphase_history_entry *h, size_t n);

#endif
