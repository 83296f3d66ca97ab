/*
 * The backfill engine (DESIGN §7): runs one UPDATE, DELETE or INSERT ... SELECT of the
 * backfill phase in small key-ordered batches that skip rows the application holds locked, commit their cursor and
 * counters with each batch, honour the throttles, and may be shared by several workers —
 * threads of one process and processes on several hosts.
 *
 * How it works, in short:
 *   - The table's key is its primary key, else a unique index over NOT NULL columns, else
 *     explicit columns (spec->key).  The key space is cut into chunks once, from a
 *     TABLESAMPLE of the keys; each chunk is a row of <state>.backfill_progress.
 *   - A batch is one transaction: claim a chunk row (FOR UPDATE SKIP LOCKED), find the key
 *     range holding the next batch_size rows after its cursor that match the statement's
 *     predicate, change them, advance the cursor and the counters, commit.  The change is
 *     first tried without row locks under a 50 ms lock_timeout (a savepoint); when a row the
 *     application holds is in the way, the batch is redone taking row locks FOR UPDATE SKIP
 *     LOCKED and remembering the keys of the skipped rows.  Work is O(rows): every batch
 *     starts where the previous one stopped.
 *   - When every chunk is walked, the skipped keys are swept: first without waiting, at the
 *     end waiting for the application's locks under lock_timeout, retried with backoff.
 *
 * Nothing here parses SQL text: the statement comes as a libpg_query node and the batch
 * statements are built by grafting its SET list, FROM/USING list and WHERE clause into
 * parsed templates, then deparsing.
 */
#ifndef PGPHASE_BACKFILL_H
#define PGPHASE_BACKFILL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pgphase/config.h"
#include "pgphase/error.h"
#include "pgphase/session.h"
#include "pgphase/sql.h"

/*
 * The key a backfill walks, in walk order: the primary key, else a unique index over NOT
 * NULL columns, else the columns the user names (--key).  Filled by pgphase_backfill_key();
 * release with pgphase_backfill_key_release().
 */
struct pgphase_backfill_key {
	char **cols;   /* attribute names (not quoted) */
	char **types;  /* each column's type as SQL text: format_type() from the catalog, or as
	                  CREATE TABLE wrote it for a key known only from the migrations */
	int n;
	char *display; /* "a, b" */
	bool checked;  /* resolved on the database being changed (else from the migrations) */
};

void pgphase_backfill_key_release(struct pgphase_backfill_key *k);
/* Append a column (copied) to k. */
void pgphase_backfill_key_add(struct pgphase_backfill_key *k, const char *col, const char *type);

/* What to backfill. */
struct pgphase_backfill_spec {
	const PgQuery__Node *stmt; /* UPDATE, DELETE or INSERT ... SELECT (borrowed) */
	int64_t version;           /* progress rows are keyed by (module, version, step) */
	int step;
	const char *key;           /* "col[,col]" (--key), or NULL: primary key, else a unique
	                              index over NOT NULL columns */
	/*
	 * The key the planner resolved (borrowed, may be NULL).  When checked, the engine walks
	 * it without asking the catalog again; otherwise it is what the migrations tell (a table
	 * an earlier migration creates) and the engine resolves the key when it runs.
	 */
	const struct pgphase_backfill_key *resolved;
	long batch_size;           /* -- pgphase:batch-size N; 0: the options' batch size */
	/* UPDATE / DELETE: record the old values of the rows changed, in <state>.undo_rows
	   (in each batch's transaction), for rollback to restore; no optimistic path */
	bool keep_old;
	const char *file;          /* origin, for messages (may be NULL) */
	int line, column;
};

enum pgphase_progress_mode {
	PGPHASE_PROGRESS_AUTO = 0, /* bar when stderr is a TTY, lines otherwise, none when quiet */
	PGPHASE_PROGRESS_BAR,
	PGPHASE_PROGRESS_LINES,
	PGPHASE_PROGRESS_NONE,
};

/* One committed batch, for on_batch (tests, benchmarks, webhooks). */
struct pgphase_backfill_batch {
	int worker;          /* 0 .. workers-1 */
	long chunk;          /* -1 for a sweep batch */
	long batch_size;     /* rows asked for */
	long long rows;      /* rows changed */
	long long skipped;   /* rows skipped because another session held them locked */
	int64_t elapsed_us;  /* wall time of the batch transaction */
};

struct pgphase_backfill_options {
	struct pgphase_backfill_config throttle; /* batch size, sleep, rows/s, target batch time,
	                                            replica lag, workers */
	enum pgphase_progress_mode progress;
	long progress_interval_ms;  /* lines mode: one line per interval (default 10 s) */
	FILE *progress_stream;      /* default stderr */
	int max_halvings;           /* batch-size halvings on statement_timeout before failing */
	long stale_claim_ms;        /* a chunk untouched this long may be taken over (30 s) */
	/* Batch transactions commit with synchronous_commit = off (default true): safe, as the
	   cursor and counters commit atomically with the data — a batch lost in a server crash
	   loses its cursor advance too and is redone; the phase's completion record, written
	   later with the session's own setting, makes every earlier batch durable with it. */
	bool async_commit;
	/* Called after each committed batch, from the worker's thread (may be NULL). */
	void (*on_batch)(void *arg, const struct pgphase_backfill_batch *b);
	void *on_batch_arg;
};

/* Fill options from cfg->backfill (cfg may be NULL for built-in defaults). */
void pgphase_backfill_options_init(struct pgphase_backfill_options *o,
				   const struct pgphase_config *cfg);

/* For the phase-completed event and the command's summary. */
struct pgphase_backfill_result {
	char *table;            /* malloc'd display name, released by _result_release */
	long long rows;         /* rows changed by the whole backfill, over every run */
	long long rows_swept;   /* of those, rows first skipped (locked) and swept up later */
	long long rows_skipped; /* skips recorded (a row locked twice counts twice) */
	long long batches;      /* over every run */
	long long rows_run;     /* rows changed by this run */
	long long batches_run;
	int64_t duration_ms;    /* wall time of this run */
	int64_t max_batch_ms;   /* slowest batch of this run */
	long final_batch_size;  /* after adaptation and statement_timeout halvings */
};

void pgphase_backfill_result_release(struct pgphase_backfill_result *res);

/*
 * Check a statement without a database: an UPDATE or DELETE without WITH, RETURNING or
 * WHERE CURRENT OF, an UPDATE that does not assign a key column, and whose WHERE clause
 * names a column it sets (so that a changed row no longer matches and a rerun repeats
 * nothing; DELETE always qualifies).  An INSERT ... SELECT without WITH or RETURNING whose
 * SELECT reads a table first in FROM (the source the batches walk), has no GROUP BY,
 * HAVING, DISTINCT, LIMIT/OFFSET, WINDOW, set operation or locking clause, does not read
 * its own target, and tells rows already copied: ON CONFLICT DO NOTHING / DO UPDATE, or a
 * top-level "NOT EXISTS (SELECT ... FROM target ...)" condition.  Fails with exit code 2
 * and "file:line:col: ...".  The planner calls this at plan time; statements under
 * "-- pgphase:as-is" never get here.
 */
int pgphase_backfill_check(const struct pgphase_backfill_spec *spec, struct pgphase_error *err);
/*
 * What the engine itself needs (the planner and the engine call this): the same checks
 * without the idempotence requirement.  An UPDATE whose WHERE names no column it sets, or an
 * INSERT ... SELECT without ON CONFLICT or NOT EXISTS, still runs exactly once per row: each
 * batch changes the rows of its key range (cursor, hi] and commits the cursor with them, and
 * the sweep changes only the keys a batch skipped (locked by the application), forgetting
 * each in the transaction that changes it.  Nothing re-reads the predicate to find rows
 * "still to do".  (A row whose key the application changes during the backfill may be
 * walked twice or not at all; pgphase_backfill_check's idempotent forms are immune.)
 */
int pgphase_backfill_check_batchable(const struct pgphase_backfill_spec *spec,
				     struct pgphase_error *err);

/*
 * The table a backfill statement walks: an UPDATE's or DELETE's table, an INSERT ...
 * SELECT's source (the SELECT's first FROM item, when it is a table; NULL otherwise, as for
 * any other statement).  Points into stmt.
 */
const PgQuery__RangeVar *pgphase_backfill_source(const PgQuery__Node *stmt);

/* pgphase_error.kind of pgphase_backfill_key() when the table does not exist (yet). */
#define PGPHASE_BACKFILL_NO_TABLE "backfill-no-table"

/*
 * The one key resolution, for the planner and the engine.  With a session: the table's key
 * from its catalog (spec->key's columns when given, each checked to exist and be NOT NULL),
 * key->checked set.  Without one (an offline plan): spec->resolved, the key the migrations
 * tell.  Fails with exit code 2 and "file:line:col: ..." naming the table when it does not
 * exist (kind PGPHASE_BACKFILL_NO_TABLE), has no usable key, an explicit key column does not
 * exist or is nullable, or the UPDATE changes a key column.  key is filled on success only.
 */
int pgphase_backfill_key(struct pgphase_session *s, const struct pgphase_backfill_spec *spec,
			 struct pgphase_backfill_key *key, struct pgphase_error *err);

/*
 * The batch statements as the engine renders them (backfill_sql.c, the only generator), for
 * `pgphase plan`: *batch is the optimistic walk batch that claims its own chunk, bounds read
 * from the claimed row (the statement every batch is sent as first); *open is the batch of a
 * chunk claimed beforehand, its cursor and upper bound as parameters $7.. and $7+n.. (the
 * first and last chunk, whose open bound's condition is left out).  state_schema is the
 * unquoted state schema name.  Both malloc'd, or -1 with err set.
 */
int pgphase_backfill_render(const struct pgphase_backfill_spec *spec,
			    const struct pgphase_backfill_key *key, const char *state_schema,
			    char **batch, char **open, struct pgphase_error *err);

/*
 * Run (or resume, or join) the backfill.  s must be idle (no open transaction); it is used
 * as worker 0, and o->throttle.workers - 1 more connections are opened.  Returns 0 when
 * every chunk is walked and every skipped row swept; on failure or interruption returns -1
 * with err set and everything committed so far kept, so a rerun continues.  res is filled
 * in both cases (release it with pgphase_backfill_result_release).
 */
int pgphase_backfill_run(struct pgphase_session *s, const struct pgphase_backfill_spec *spec,
			 const struct pgphase_backfill_options *o, struct pgphase_backfill_result *res,
			 struct pgphase_error *err);

/* Progress of one backfill step, for `pgphase status`. */
struct pgphase_backfill_status {
	int64_t version;
	int step;
	char *table;             /* malloc'd */
	long long rows_done;
	long long rows_estimate; /* rows expected to change, from a sample; may be exceeded */
	long long rows_swept;
	long long rows_pending_sweep; /* skipped rows not yet swept */
	long long batches;
	int chunks, chunks_done;
	int chunks_active;       /* chunks a worker touched within the last 30 s */
	bool done;               /* walked and swept */
	char *updated_at;        /* ISO 8601 UTC of the last batch, malloc'd */
};

/*
 * Every backfill of the session's module that has progress rows (version < 0), or of one
 * version, ordered by version and step.  Empty when the state schema is absent or older.
 * Free with pgphase_backfill_status_free.
 */
int pgphase_backfill_status_load(struct pgphase_session *s, int64_t version,
				 struct pgphase_backfill_status **out, size_t *n,
				 struct pgphase_error *err);
void pgphase_backfill_status_free(struct pgphase_backfill_status *st, size_t n);

#endif
