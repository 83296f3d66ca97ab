/*
 * One worker's batches: the walk (claim a chunk row FOR UPDATE SKIP LOCKED, change the next
 * batch of rows — optimistically without row locks, or when a lock is in the way with
 * FOR UPDATE SKIP LOCKED — and commit data, cursor, counters and claim together) and the
 * sweep of rows that were skipped because another session held them locked.  Throttling comes from
 * throttle.c; the statements from backfill_sql.c.  Expected failures are handled by name:
 * statement_timeout (57014, not ours) halves the batch, lock_timeout (55P03) and deadlocks
 * (40P01) are retried with backoff within lock_retry_budget, a dropped table (42P01) stops
 * the backfill with its progress kept.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "backfill/backfill.h"
#include "base/backoff.h"
#include "base/db.h"
#include "pgphase/log.h"
#include "state/state.h"
#include "base/util.h"

#define SQLSTATE_SERIALIZATION "40001"
#define IDLE_WAIT_US 200000LL

/*
 * The optimistic path (no row locks) waits at most 50 ms for a lock before the batch is
 * redone with FOR UPDATE SKIP LOCKED; after such a fallback the worker keeps taking row
 * locks for LOCKED_FOR_US, as application locks tend to come in bursts.
 */
#define SQL_FAST_LOCK_TIMEOUT "SET LOCAL lock_timeout = '50ms'"

/*
 * A batch transaction.  With async_commit its COMMIT does not wait for the WAL flush: the
 * data, cursor, counters and claim are one transaction, so a crash of the server can lose
 * only whole batches — data and cursor advance together — and the rerun redoes them.  The
 * backfill's completion (the migration's state row and events) commits later with the
 * session's own synchronous_commit, and its flush covers every batch before it.  This keeps
 * the application's commits from queueing behind the batches' flushes.
 */
#define SQL_ASYNC_COMMIT "SET LOCAL synchronous_commit = off"
static const char *const SQL_BATCH_BEGIN = "BEGIN";
static const char *const SQL_BATCH_BEGIN_ASYNC = "BEGIN; " SQL_ASYNC_COMMIT;
#define LOCKED_FOR_US 5000000LL
#define MAX_KEY 32 /* INDEX_MAX_KEYS */
#define MAX_UNIQUE_RETRIES 3

/*
 * Claim a chunk for one batch: this worker's current chunk if free, else a chunk no other
 * worker touched within the stale-claim time, else any free one.  SKIP LOCKED: a chunk row
 * locked by another worker's batch is passed over, never waited for.  The lock lasts until
 * the batch commits.  backfill_sql.c's SQL_CLAIM_CTE orders chunks the same way: keep
 * them alike.
 * $1 module, $2 version, $3 step, $4 current chunk, $5 claimed_by, $6 stale ms.
 */
static const char *const SQL_CLAIM =
	"SELECT chunk, cursor::text, upper_bound::text FROM @S@.backfill_progress"
	" WHERE module = $1 AND version = $2 AND step = $3 AND chunk >= 0 AND NOT done"
	" ORDER BY chunk = $4::bigint DESC,"
	"          (claimed_by IS NOT NULL AND claimed_by <> $5"
	"           AND updated_at > now() - make_interval(secs => $6::float8 / 1000)),"
	"          chunk"
	" LIMIT 1 FOR UPDATE SKIP LOCKED";

/* Chunks not walked yet (some may be claimed by other workers right now). */
static const char *const SQL_REMAINING =
	"SELECT count(*) FROM @S@.backfill_progress"
	" WHERE module = $1 AND version = $2 AND step = $3 AND chunk >= 0 AND NOT done";

/* The sweep row: one sweeper at a time; waits under lock_timeout. */
static const char *const SQL_SWEEP_LOCK =
	"SELECT 1 FROM @S@.backfill_progress"
	" WHERE module = $1 AND version = $2 AND step = $3 AND chunk = -1 FOR UPDATE";

/* Every chunk walked and every skipped row swept: the backfill is done. */
static const char *const SQL_SWEEP_DONE =
	"UPDATE @S@.backfill_progress SET done = true, updated_at = now()"
	" WHERE module = $1 AND version = $2 AND step = $3 AND chunk = -1";

bool bf_should_stop(struct bf_job *j)
{
	bool stop;

	pthread_mutex_lock(&j->mu);
	stop = j->stop;
	pthread_mutex_unlock(&j->mu);
	return stop || pgphase_interrupted();
}

static bool keep_going(void *arg)
{
	return !bf_should_stop(arg);
}

bool bf_sleep(struct bf_job *j, int64_t us)
{
	return backoff_sleep(us, keep_going, j);
}

static PGresult *sq(struct bf_worker *w, const char *tmpl, int n, const char *const *params,
		    ExecStatusType expect)
{
	char *sql = state_sql(w->s, tmpl);
	PGresult *r = db_query(w->s, sql, n, params, expect, &w->err);

	free(sql);
	return r;
}

static int stopped(struct bf_worker *w)
{
	if (pgphase_interrupted())
		return pgphase_error_set(&w->err, PGPHASE_EXIT_FAILED, "interrupted");
	return 1; /* another worker failed: it reports */
}

/* Batch retries: 0.1 s, 0.2 s, ... at most 12.8 s apart, full jitter. */
static const struct pgphase_backoff batch_backoff = { 100000, 12800000, false };

/* Full-jitter exponential backoff within lock_retry_budget; false when spent. */
static bool backoff(struct bf_worker *w, int attempt, int64_t since)
{
	int64_t wait = backoff_next(&batch_backoff, attempt,
				    since + (int64_t)w->s->cfg->lock_retry_budget_ms * 1000);

	if (wait < 0)
		return false;
	pgphase_verbose("backfill: %s; retrying in %.2f s", w->err.message, wait / 1e6);
	return bf_sleep(w->j, wait);
}

static bool transient(struct bf_worker *w)
{
	return db_failed_with(w->s, SQLSTATE_LOCK_NOT_AVAILABLE) ||
	       db_failed_with(w->s, SQLSTATE_DEADLOCK) || db_failed_with(w->s, SQLSTATE_SERIALIZATION);
}

/* A failed batch: 0 to go on (after halving or backoff), -1 to stop with w->err. */
static int batch_failed(struct bf_worker *w, int *attempt, int64_t *since)
{
	struct bf_job *j = w->j;

	db_rollback(w->s);
	if (pgphase_interrupted() || PQstatus(w->s->conn) != CONNECTION_OK)
		return -1;
	if (db_failed_with(w->s, SQLSTATE_QUERY_CANCELED)) {
		/* statement_timeout: a smaller batch may fit */
		if (++w->halvings > j->o->max_halvings || w->batch_size <= 1) {
			pgphase_error_set(&w->err, PGPHASE_EXIT_FAILED, "backfill of \"%s\": a batch of "
					  "%ld rows still exceeds statement_timeout (%ld ms) after %d "
					  "halvings", j->rel_display, w->batch_size,
					  w->s->cfg->statement_timeout_ms, w->halvings - 1);
			pgphase_error_hint(&w->err, "raise statement_timeout or make the change "
						    "cheaper; the progress so far is kept");
			return -1;
		}
		w->batch_size = w->cap = (w->batch_size + 1) / 2;
		pgphase_warn("backfill of \"%s\": batch hit statement_timeout; batch size now %ld",
			     j->rel_display, w->batch_size);
		return 0;
	}
	if (db_failed_with(w->s, SQLSTATE_UNDEFINED_TABLE)) {
		pgphase_error_set(&w->err, PGPHASE_EXIT_FAILED, "backfill of \"%s\" stopped: the "
				  "table was dropped while the backfill was under way", j->rel_display);
		pgphase_error_hint(&w->err, "its progress is kept; roll the migration back, or "
					    "recreate the table and run backfill again");
		return -1;
	}
	if (j->insert && db_failed_with(w->s, SQLSTATE_UNIQUE_VIOLATION) &&
	    w->unique_retries < MAX_UNIQUE_RETRIES) {
		/* an anti-join INSERT raced a concurrent insert of the same key (a sync trigger):
		   redone, the anti-join now sees that row; a duplicate of the source's own keeps
		   failing and is reported */
		w->unique_retries++;
		if (*since == 0)
			*since = now_us();
		if (backoff(w, (*attempt)++, *since))
			return 0;
		return bf_should_stop(j) ? stopped(w) : -1;
	}
	if (transient(w)) {
		if (*since == 0)
			*since = now_us();
		if (backoff(w, (*attempt)++, *since))
			return 0;
		return bf_should_stop(j) ? stopped(w) : -1;
	}
	return -1;
}

/* Cursor and upper bound JSON texts into parameters (pointers into the json values). */
static int bound_params(const char *text, json_t **holder, const char **params, int n)
{
	*holder = json_loads(text, 0, NULL);
	if (!json_is_array(*holder) || (int)json_array_size(*holder) != n)
		return -1;
	for (int i = 0; i < n; i++)
		params[i] = json_string_value(json_array_get(*holder, (size_t)i));
	return 0;
}

static void record(struct bf_worker *w, long chunk, long long rows, long long skipped,
		   int64_t elapsed)
{
	struct bf_job *j = w->j;
	struct pgphase_backfill_batch b = { w->id, chunk, w->batch_size, rows, skipped, elapsed };

	pthread_mutex_lock(&j->mu);
	j->rows_run += rows;
	j->batches_run++;
	j->skipped_run += skipped;
	if (chunk < 0)
		j->swept_run += rows;
	if (elapsed > j->max_batch_us)
		j->max_batch_us = elapsed;
	pthread_mutex_unlock(&j->mu);
	progress_add(&j->pr, rows);
	if (j->o->on_batch)
		j->o->on_batch(j->o->on_batch_arg, &b);
}

/* A claimed chunk: its number and bounds as parameter texts (pointers into lo/up). */
struct claim {
	char chunk[24];
	json_t *lo, *up;
	const char *lov[MAX_KEY], *upv[MAX_KEY];
	int v; /* bit 0: cursor, bit 1: upper bound */
};

static int append(const char **params, int n, const char *const *vals, int count)
{
	for (int i = 0; i < count; i++)
		params[n++] = vals[i];
	return n;
}

/* Claim a chunk row: 1 claimed, 0 none free, -1 failed. */
static int claim(struct bf_worker *w, struct claim *c)
{
	struct bf_job *j = w->j;
	char cur_s[24], stale_s[24];
	const char *params[6] = { w->s->cfg->module, j->version, j->step, cur_s, w->me, stale_s };
	PGresult *r;
	int rc = 1;

	snprintf(cur_s, sizeof(cur_s), "%ld", w->current_chunk);
	snprintf(stale_s, sizeof(stale_s), "%ld", j->o->stale_claim_ms);
	r = sq(w, SQL_CLAIM, 6, params, PGRES_TUPLES_OK);
	if (!r || PQntuples(r) == 0) {
		PQclear(r);
		return r ? 0 : -1;
	}
	snprintf(c->chunk, sizeof(c->chunk), "%s", PQgetvalue(r, 0, 0));
	w->current_chunk = atol(c->chunk);
	if (!PQgetisnull(r, 0, 1)) {
		c->v |= 1;
		if (bound_params(PQgetvalue(r, 0, 1), &c->lo, c->lov, j->key.n) < 0)
			rc = -1;
	}
	if (!PQgetisnull(r, 0, 2)) {
		c->v |= 2;
		if (bound_params(PQgetvalue(r, 0, 2), &c->up, c->upv, j->key.n) < 0)
			rc = -1;
	}
	PQclear(r);
	if (rc < 0)
		pgphase_error_set(&w->err, PGPHASE_EXIT_FAILED, "backfill of \"%s\": chunk %s has a "
				  "cursor that does not match the key (%s)", j->rel_display, c->chunk,
				  j->key.display);
	return rc;
}

/*
 * The batch statement (backfill_sql.c): optimistic (fast) or taking row locks.  Both return
 * rows changed, rows found (fewer than the batch size: the chunk is walked to its end), a
 * third column (the locked one: rows skipped), and the progress row count last.
 */
static PGresult *walk_batch(struct bf_worker *w, const struct claim *c, bool fast)
{
	struct bf_job *j = w->j;
	const char *params[6 + 2 * MAX_KEY] = { w->s->cfg->module, j->version, j->step, c->chunk,
						NULL, w->me };
	char size_s[24];
	int n = 6;

	snprintf(size_s, sizeof(size_s), "%ld", w->batch_size);
	params[4] = size_s;
	n = append(params, n, c->lov, c->v & 1 ? j->key.n : 0);
	n = append(params, n, c->upv, c->v & 2 ? j->key.n : 0);
	return db_query(w->s, (fast ? j->sql.fast : j->sql.batch)[c->v], n, params,
			PGRES_TUPLES_OK, &w->err);
}

/*
 * After a failed optimistic batch: true when a lock was in the way (the error is cleared
 * and the worker takes row locks, skipping locked rows, for LOCKED_FOR_US).
 */
static bool lock_fallback(struct bf_worker *w)
{
	if (!db_failed_with(w->s, SQLSTATE_LOCK_NOT_AVAILABLE) || pgphase_interrupted())
		return false;
	w->locked_until_us = now_us() + LOCKED_FOR_US;
	pgphase_error_release(&w->err);
	pgphase_error_init(&w->err);
	return true;
}

static void batch_done(struct bf_worker *w, const char *chunk, long long rows,
		       long long skipped, int64_t t0)
{
	int64_t elapsed = now_us() - t0;

	record(w, atol(chunk), rows, skipped, elapsed);
	w->batch_size = throttle_adapt(&w->j->th, w->batch_size, elapsed, w->cap);
	w->halvings = 0;
	w->unique_retries = 0;
}

/*
 * One optimistic walk batch in one round trip: BEGIN, the settings, j->sql.claimed
 * (SQL_WALK_FAST claiming its own chunk) and COMMIT in one pipeline (the COMMIT does not
 * depend on the result: with no chunk claimed nothing was read or changed).  1 done, 0 no
 * chunk with both bounds free (the caller goes the two-statement way), -1 failed (w->err;
 * rolled back).
 */
static int walk_claimed(struct bf_worker *w, long long *rows)
{
	struct bf_job *j = w->j;
	char size_s[24], cur_s[24], stale_s[24];
	const char *params[7] = { w->s->cfg->module, j->version, j->step, cur_s, size_s, w->me,
				  stale_s };
	struct db_step steps[5];
	PGresult *res[5], *r;
	int64_t t0 = now_us();
	int n = 0, rc = 1, at;

	steps[n++] = (struct db_step){ NULL, "BEGIN", 0, NULL, PGRES_COMMAND_OK };
	if (j->o->async_commit)
		steps[n++] = (struct db_step){ NULL, SQL_ASYNC_COMMIT, 0, NULL,
					       PGRES_COMMAND_OK };
	steps[n++] = (struct db_step){ NULL, SQL_FAST_LOCK_TIMEOUT, 0, NULL, PGRES_COMMAND_OK };
	at = n;
	steps[n++] = (struct db_step){ w->claimed_name, j->sql.claimed, 7, params,
				       PGRES_TUPLES_OK };
	steps[n++] = (struct db_step){ NULL, "COMMIT", 0, NULL, PGRES_COMMAND_OK };
	snprintf(size_s, sizeof(size_s), "%ld", w->batch_size);
	snprintf(cur_s, sizeof(cur_s), "%ld", w->current_chunk);
	snprintf(stale_s, sizeof(stale_s), "%ld", j->o->stale_claim_ms);
	if (db_pipeline(w->s, n, steps, res, &w->err) < 0) {
		db_rollback(w->s);
		return -1;
	}
	r = res[at];
	if (PQgetisnull(r, 0, 2)) {
		rc = 0;
	} else if (atoll(PQgetvalue(r, 0, 3)) != 1) {
		rc = pgphase_error_set(&w->err, PGPHASE_EXIT_FAILED, "backfill of \"%s\": progress "
				       "row of chunk %s vanished", j->rel_display,
				       PQgetvalue(r, 0, 2));
	} else {
		*rows = atoll(PQgetvalue(r, 0, 0));
		w->current_chunk = atol(PQgetvalue(r, 0, 2));
		if (atoll(PQgetvalue(r, 0, 1)) < w->batch_size)
			w->current_chunk = -1; /* walked to its end */
		batch_done(w, PQgetvalue(r, 0, 2), *rows, 0, t0);
	}
	for (int i = 0; i < n; i++)
		PQclear(res[i]);
	return rc;
}

/* One walk batch: 1 done, 0 nothing claimable, -1 failed (w->err). */
static int walk_one(struct bf_worker *w, long long *rows)
{
	struct bf_job *j = w->j;
	struct claim c;
	int64_t t0 = now_us();
	/* rows whose old values are recorded are locked before they change (backfill_sql.c) */
	bool fast = t0 >= w->locked_until_us && !bf_keeps_old(j);
	char *begin = xasprintf("%s%s%s", j->o->async_commit ? SQL_BATCH_BEGIN_ASYNC
				: SQL_BATCH_BEGIN, fast ? "; " : "", fast ? SQL_FAST_LOCK_TIMEOUT : "");
	long long skipped = 0;
	PGresult *r = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = db_exec(w->s, begin, &w->err);
	free(begin);
	if (rc < 0)
		return -1;
	rc = claim(w, &c);
	if (rc <= 0)
		goto cleanup;
	rc = -1;
	r = walk_batch(w, &c, fast);
	if (!r && fast && lock_fallback(w)) {
		json_decref(c.lo);
		json_decref(c.up);
		db_rollback(w->s);
		return walk_one(w, rows);
	}
	if (!r)
		goto cleanup;
	if (atoll(PQgetvalue(r, 0, PQnfields(r) - 1)) != 1) {
		pgphase_error_set(&w->err, PGPHASE_EXIT_FAILED, "backfill of \"%s\": progress row of "
				  "chunk %s vanished", j->rel_display, c.chunk);
		goto cleanup;
	}
	*rows = atoll(PQgetvalue(r, 0, 0));
	if (!fast)
		skipped = atoll(PQgetvalue(r, 0, 2));
	if (atoll(PQgetvalue(r, 0, 1)) < w->batch_size)
		w->current_chunk = -1; /* walked to its end */
	if (db_exec(w->s, "COMMIT", &w->err) == 0) {
		batch_done(w, c.chunk, *rows, skipped, t0);
		rc = 1;
	}
cleanup:
	PQclear(r);
	json_decref(c.lo);
	json_decref(c.up);
	if (rc <= 0)
		db_rollback(w->s);
	return rc;
}

/* The optimistic path when it is on and no lock got in its way lately, then the others. */
static int walk_next(struct bf_worker *w, long long *rows)
{
	int rc;

	if (!w->claimed_name[0] || now_us() < w->locked_until_us)
		return walk_one(w, rows);
	rc = walk_claimed(w, rows);
	if (rc == 0)
		w->claimed_name[0] = '\0'; /* only first and last chunks left for us */
	else if (rc > 0 || !lock_fallback(w))
		return rc;
	return walk_one(w, rows);
}

static int walk_loop(struct bf_worker *w);

int bf_walk(struct bf_worker *w)
{
	static int serial;
	char name[32];
	int rc;

	/* j->sql.claimed is prepared on this worker's connection for the walk */
	snprintf(name, sizeof(name), "pgphase_bf_walk_%d", __atomic_add_fetch(&serial, 1,
									     __ATOMIC_RELAXED));
	if (bf_keeps_old(w->j)) {
		name[0] = '\0'; /* the one-trip path is optimistic: never with old values kept */
	} else if (db_prepare(w->s, name, w->j->sql.claimed, &w->err) == 0) {
		snprintf(w->claimed_name, sizeof(w->claimed_name), "%s", name);
	} else {
		/* e.g. the table locked or dropped: the two-statement way retries or reports */
		pgphase_verbose("backfill: %s; walking without the one-trip path", w->err.message);
		pgphase_error_release(&w->err);
		pgphase_error_init(&w->err);
		name[0] = '\0';
	}
	rc = walk_loop(w);
	if (name[0] && PQstatus(w->s->conn) == CONNECTION_OK) {
		char *sql = xasprintf("DEALLOCATE %s", name);
		struct pgphase_error ignored;

		pgphase_error_init(&ignored);
		db_rollback(w->s);
		db_exec(w->s, sql, &ignored);
		pgphase_error_release(&ignored);
		free(sql);
	}
	return rc;
}

static int walk_loop(struct bf_worker *w)
{
	struct bf_job *j = w->j;
	int attempt = 0;
	int64_t since = 0;

	for (;;) {
		long long rows = 0;
		int rc;

		if (bf_should_stop(j))
			return stopped(w);
		rc = throttle_wait_replicas(&j->th, w->s, keep_going, j, &w->err);
		if (rc <= 0)
			return rc < 0 ? -1 : stopped(w);
		rc = walk_next(w, &rows);
		if (rc < 0) {
			if (batch_failed(w, &attempt, &since) < 0)
				return -1;
			continue;
		}
		if (rc == 0) {
			const char *params[3] = { w->s->cfg->module, j->version, j->step };
			PGresult *r = sq(w, SQL_REMAINING, 3, params, PGRES_TUPLES_OK);
			long long left;

			if (!r)
				return -1;
			left = atoll(PQgetvalue(r, 0, 0));
			PQclear(r);
			if (left == 0)
				return 0;
			bf_sleep(j, IDLE_WAIT_US); /* every chunk left is in another worker's batch */
			continue;
		}
		attempt = 0;
		since = 0;
		if (!backoff_sleep_until(throttle_next_start(&j->th, rows), keep_going, j))
			return stopped(w);
	}
}

/* One sweep batch: returns keys left before it (0: nothing to sweep), -1 on failure. */
static long long sweep_one(struct bf_worker *w, bool wait, long long *forgotten)
{
	struct bf_job *j = w->j;
	char size_s[24];
	const char *params[5] = { w->s->cfg->module, j->version, j->step, size_s, w->me };
	int64_t t0 = now_us();
	long long keys = -1;
	PGresult *r;

	snprintf(size_s, sizeof(size_s), "%ld", w->batch_size);
	if (db_exec(w->s, j->o->async_commit ? SQL_BATCH_BEGIN_ASYNC : SQL_BATCH_BEGIN, &w->err) < 0)
		return -1;
	r = sq(w, SQL_SWEEP_LOCK, 3, params, PGRES_TUPLES_OK);
	PQclear(r);
	if (!r || !(r = db_query(w->s, j->sql.sweep[wait], 5, params, PGRES_TUPLES_OK, &w->err)))
		goto fail;
	keys = atoll(PQgetvalue(r, 0, 1));
	*forgotten = atoll(PQgetvalue(r, 0, 2));
	if (keys == 0) {
		PQclear(r);
		r = sq(w, SQL_SWEEP_DONE, 3, params, PGRES_COMMAND_OK);
		if (!r)
			goto fail;
	}
	if (db_exec(w->s, "COMMIT", &w->err) < 0)
		goto fail;
	if (keys > 0)
		record(w, -1, atoll(PQgetvalue(r, 0, 0)), 0, now_us() - t0);
	PQclear(r);
	return keys;
fail:
	PQclear(r);
	db_rollback(w->s);
	return -1;
}

int bf_sweep(struct bf_worker *w)
{
	struct bf_job *j = w->j;
	int attempt = 0;
	int64_t since = 0;
	bool wait = false;

	for (;;) {
		long long forgotten = 0, keys;

		if (bf_should_stop(j))
			return stopped(w);
		keys = sweep_one(w, wait, &forgotten);
		if (keys == 0)
			return 0;
		if (keys < 0) {
			db_rollback(w->s);
			if (pgphase_interrupted() || !transient(w))
				return -1;
			if (since == 0)
				since = now_us();
			if (!backoff(w, attempt++, since)) {
				if (bf_should_stop(j))
					return stopped(w);
				pgphase_error_set(&w->err, PGPHASE_EXIT_FAILED, "backfill of \"%s\": rows "
						  "stayed locked by other sessions for longer than "
						  "lock_retry_budget (%ld ms)", j->rel_display,
						  w->s->cfg->lock_retry_budget_ms);
				pgphase_error_hint(&w->err, "the walk is complete; run backfill again "
							    "to sweep the remaining rows");
				return -1;
			}
			wait = false; /* try without waiting first, then wait again */
			continue;
		}
		/* nothing moved without waiting: the rows left are locked, wait for them */
		wait = forgotten == 0 && !wait;
		if (forgotten > 0) {
			attempt = 0;
			since = 0;
		}
	}
}
