/*
 * Backfill engine internals shared by src/backfill*.c (the public side is
 * include/pgphase/backfill.h).  One struct bf_job per run: the resolved key, the rendered
 * statements, the throttle and progress shared by the workers, and the first error.
 */
#ifndef PGPHASE_BACKFILL_PRIV_H
#define PGPHASE_BACKFILL_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pgphase/backfill.h"
#include "base/progress.h"
#include "backfill/throttle.h"

/* Class of the transaction advisory lock that serialises chunk setup ('pgbf'). */
#define BF_LOCK_CLASS "1885823590"

/* Statement variants: batch[lo | hi << 1] (cursor present, upper bound present). */
struct bf_sql {
	char *batch[4]; /* SKIP LOCKED walk batch */
	char *fast[4];  /* optimistic path, no row locks first (see backfill_sql.c) */
	char *claimed;  /* optimistic path claiming its own chunk: one round trip */
	char *sweep[2]; /* [0] SKIP LOCKED, [1] waits (under lock_timeout) */
	char *sample;   /* estimate + chunk boundaries from TABLESAMPLE */
};

struct bf_job {
	struct pgphase_session *s0; /* worker 0's session (the caller's) */
	const struct pgphase_backfill_spec *spec;
	const struct pgphase_backfill_options *o;
	bool update;        /* UPDATE */
	bool insert;        /* INSERT ... SELECT (neither: DELETE) */
	bool joined;        /* FROM / USING / more FROM items: the predicate may name other tables */
	char *rel_display;  /* schema.table as written (INSERT: the source table) */
	char *rel_quoted;   /* "schema"."table" for to_regclass */
	char *qual;         /* quoted alias or table name the statements qualify columns with */
	struct pgphase_backfill_key key;
	struct bf_sql sql;
	char version[24], step[16];
	long batch_size;    /* starting batch size */
	struct throttle th;
	struct progress pr;
	pthread_mutex_t mu; /* guards everything below */
	bool stop;
	struct pgphase_error err; /* first failure of any worker */
	long long rows_run, batches_run, skipped_run, swept_run;
	int64_t max_batch_us;
	long final_batch_size;
};

/* ---- backfill_check.c: statement checks and template rendering ---- */

/* WHERE clause (INSERT: the SELECT's; may be NULL). */
const PgQuery__Node *bf_where(const PgQuery__Node *stmt);
/*
 * Parse tmpl (one statement; "pgphase_rel" stands for the statement's table, the column
 * "pgphase_pred" for its WHERE clause, "pgphase_set = NULL" for its SET list, "INSERT INTO
 * pgphase_ins SELECT pgphase_tl FROM pgphase_rel ..." for an INSERT ... SELECT), graft the
 * statement's pieces in (its FROM/USING list goes to every UPDATE/DELETE of the template),
 * and deparse.  Returns malloc'd SQL or NULL with err set.
 */
char *bf_render(const char *tmpl, const PgQuery__Node *stmt, struct pgphase_error *err);

/* ---- backfill_key.c ---- */
/* The statement's kind and table names into j (no database); checks the statement. */
int bf_describe(struct bf_job *j, struct pgphase_error *err);
/* bf_describe, then the key: spec->resolved when checked, else pgphase_backfill_key(). */
int bf_resolve(struct bf_job *j, struct pgphase_session *s, struct pgphase_error *err);
/* Free what bf_describe and bf_resolve filled. */
void bf_job_names_release(struct bf_job *j);

/* ---- backfill_sql.c: the only generator of batch SQL (engine and `pgphase plan`) ---- */
/* Does j record the old values of the rows it changes (spec->keep_old, UPDATE or DELETE)? */
bool bf_keeps_old(const struct bf_job *j);
/* Render every statement of j->sql; schema_q is the quoted state schema.  No database. */
int bf_build_sql(struct bf_job *j, const char *schema_q, struct pgphase_error *err);
void bf_sql_release(struct bf_sql *q);

/* ---- backfill_chunks.c ---- */
/* Create the chunk rows on first use (or check the key against existing ones). */
int bf_setup(struct bf_job *j, struct pgphase_session *s, long long *estimate,
	     long long *done_before, struct pgphase_error *err);
/* Totals over the step's progress rows. */
int bf_totals(struct bf_job *j, struct pgphase_session *s, struct pgphase_backfill_result *res,
	      struct pgphase_error *err);

/* ---- backfill_batch.c ---- */
struct bf_worker {
	struct bf_job *j;
	struct pgphase_session *s;
	struct pgphase_session own; /* storage for workers > 0 */
	int id;
	char me[128];       /* claimed_by: host pid/worker */
	long batch_size;
	long cap;           /* ceiling after a statement_timeout */
	int halvings;       /* consecutive statement_timeout halvings */
	int unique_retries; /* consecutive unique violations of an anti-join INSERT */
	long current_chunk; /* preferred chunk, -1 none */
	int64_t locked_until_us; /* take row locks (no optimistic path) until then */
	char claimed_name[32]; /* j->sql.claimed prepared as, "" when not to be used */
	pthread_t thread;
	struct pgphase_error err;
};
/* Walk chunks until none is left (0), or fail (-1 with w->err). */
int bf_walk(struct bf_worker *w);
/* Sweep skipped rows; waits for locks at the end.  0 / -1. */
int bf_sweep(struct bf_worker *w);
/* Sleep up to ms in small steps; false when interrupted or the job stopped. */
bool bf_sleep(struct bf_job *j, int64_t us);
bool bf_should_stop(struct bf_job *j);

#endif
