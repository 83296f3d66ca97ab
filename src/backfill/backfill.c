/*
 * The backfill engine's entry points (include/pgphase/backfill.h): resolve the key, render
 * the statements, create or join the chunks, run the workers — the caller's session as
 * worker 0 plus workers - 1 threads with their own connections — then sweep, and report.
 * Worker connections copy the caller's connection parameters (PQconninfo) so they carry the
 * same lock_timeout/statement_timeout options; they are not full sessions (the process-wide
 * cancel handle stays the caller's: on SIGINT the other workers stop after their batch).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backfill/backfill.h"
#include "base/db.h"
#include "pgphase/log.h"
#include "base/util.h"

#define DEFAULT_BATCH 1000L
#define DEFAULT_HALVINGS 8

void pgphase_backfill_options_init(struct pgphase_backfill_options *o,
				   const struct pgphase_config *cfg)
{
	memset(o, 0, sizeof(*o));
	if (cfg)
		o->throttle = cfg->backfill;
	if (o->throttle.batch_size <= 0)
		o->throttle.batch_size = DEFAULT_BATCH;
	if (o->throttle.workers <= 0)
		o->throttle.workers = 1;
	o->progress = PGPHASE_PROGRESS_AUTO;
	o->progress_interval_ms = 10000;
	o->max_halvings = DEFAULT_HALVINGS;
	o->stale_claim_ms = 30000;
	o->async_commit = true;
}

void pgphase_backfill_result_release(struct pgphase_backfill_result *res)
{
	free(res->table);
	memset(res, 0, sizeof(*res));
}

/* A connection like the caller's, for worker threads. */
static int worker_connect(struct bf_worker *w, struct pgphase_session *s0,
			  struct pgphase_error *err)
{
	PQconninfoOption *opts = PQconninfo(s0->conn), *o;
	const char **keys, **vals;
	size_t n = 0;

	if (!opts)
		return pgphase_error_set(err, PGPHASE_EXIT_FAILED, "out of memory");
	for (o = opts; o->keyword; o++)
		n++;
	keys = xcalloc(n + 1, sizeof(*keys));
	vals = xcalloc(n + 1, sizeof(*vals));
	n = 0;
	for (o = opts; o->keyword; o++)
		if (o->val && o->val[0]) {
			keys[n] = o->keyword;
			vals[n++] = o->val;
		}
	memset(&w->own, 0, sizeof(w->own));
	w->own.conn = PQconnectdbParams(keys, vals, 0);
	free(keys);
	free(vals);
	PQconninfoFree(opts);
	w->own.cfg = s0->cfg;
	w->own.schema_q = xstrdup(s0->schema_q);
	w->own.state_ready = true;
	w->s = &w->own;
	if (PQstatus(w->own.conn) != CONNECTION_OK)
		return pgphase_error_set(err, PGPHASE_EXIT_FAILED, "backfill worker %d cannot "
					 "connect: %s", w->id, PQerrorMessage(w->own.conn));
	return 0;
}

static void worker_disconnect(struct bf_worker *w)
{
	if (w->s != &w->own)
		return;
	PQfinish(w->own.conn);
	free(w->own.schema_q);
	free(w->own.errmsg);
	memset(&w->own, 0, sizeof(w->own));
}

/* Keep the first failure; tell the other workers to stop. */
static void fail(struct bf_job *j, struct bf_worker *w)
{
	pthread_mutex_lock(&j->mu);
	if (!j->err.code && w->err.code)
		pgphase_error_move(&j->err, &w->err);
	j->stop = true;
	pthread_mutex_unlock(&j->mu);
}

static void *worker_main(void *arg)
{
	struct bf_worker *w = arg;

	if (bf_walk(w) < 0)
		fail(w->j, w);
	return NULL;
}

static enum progress_mode progress_mode(const struct pgphase_backfill_options *o)
{
	FILE *out = o->progress_stream ? o->progress_stream : stderr;

	switch (o->progress) {
	case PGPHASE_PROGRESS_BAR: return PROGRESS_BAR;
	case PGPHASE_PROGRESS_LINES: return PROGRESS_LINES;
	case PGPHASE_PROGRESS_NONE: return PROGRESS_NONE;
	default: break;
	}
	if (pgphase_log_get_level() < PGPHASE_LOG_INFO)
		return PROGRESS_NONE;
	return isatty(fileno(out)) ? PROGRESS_BAR : PROGRESS_LINES;
}

/* Workers 1..n-1 in threads, worker 0 here; then worker 0 sweeps. */
static void run_workers(struct bf_job *j, struct bf_worker *ws, int n)
{
	int started = 1;

	for (int i = 1; i < n; i++) {
		if (worker_connect(&ws[i], j->s0, &ws[i].err) < 0) {
			fail(j, &ws[i]);
			worker_disconnect(&ws[i]);
			break;
		}
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
			pgphase_error_set(&ws[i].err, PGPHASE_EXIT_FAILED, "cannot start a thread");
			fail(j, &ws[i]);
			worker_disconnect(&ws[i]);
			break;
		}
		started = i + 1;
	}
	worker_main(&ws[0]);
	for (int i = 1; i < started; i++) {
		pthread_join(ws[i].thread, NULL);
		worker_disconnect(&ws[i]);
	}
	if (!j->stop && bf_sweep(&ws[0]) < 0)
		fail(j, &ws[0]);
	for (int i = 0; i < n; i++)
		if (ws[i].batch_size > j->final_batch_size)
			j->final_batch_size = ws[i].batch_size;
}

static void release_job(struct bf_job *j)
{
	bf_sql_release(&j->sql);
	bf_job_names_release(j);
	pgphase_error_release(&j->err);
	pthread_mutex_destroy(&j->mu);
}

int pgphase_backfill_run(struct pgphase_session *s, const struct pgphase_backfill_spec *spec,
			 const struct pgphase_backfill_options *o, struct pgphase_backfill_result *res,
			 struct pgphase_error *err)
{
	struct bf_job j;
	struct bf_worker *ws = NULL;
	long long estimate = 0, done_before = 0;
	int64_t start = now_us();
	int n = o->throttle.workers > 0 ? o->throttle.workers : 1, rc = -1;
	bool running = false;
	char host[128], *title;

	memset(res, 0, sizeof(*res));
	memset(&j, 0, sizeof(j));
	pthread_mutex_init(&j.mu, NULL);
	j.s0 = s;
	j.spec = spec;
	j.o = o;
	snprintf(j.version, sizeof(j.version), "%lld", (long long)spec->version);
	snprintf(j.step, sizeof(j.step), "%d", spec->step);
	if (pgphase_state_ensure(s, true, err) < 0 || bf_resolve(&j, s, err) < 0 ||
	    bf_build_sql(&j, s->schema_q, err) < 0 ||
	    bf_setup(&j, s, &estimate, &done_before, err) < 0)
		goto cleanup;
	res->table = xstrdup(j.rel_display);
	throttle_init(&j.th, &o->throttle);
	title = xasprintf("backfill \"%s\"", j.rel_display);
	progress_init(&j.pr, progress_mode(o), o->progress_stream, title, estimate, done_before,
		      o->progress_interval_ms);
	free(title);
	running = true;
	j.batch_size = spec->batch_size > 0 ? spec->batch_size
		       : o->throttle.batch_size > 0 ? o->throttle.batch_size : DEFAULT_BATCH;
	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "unknown");
	host[sizeof(host) - 1] = '\0';
	ws = xcalloc((size_t)n, sizeof(*ws));
	for (int i = 0; i < n; i++) {
		ws[i].j = &j;
		ws[i].id = i;
		ws[i].s = s;
		ws[i].batch_size = j.batch_size;
		ws[i].cap = j.batch_size > THROTTLE_MAX_BATCH ? j.batch_size : THROTTLE_MAX_BATCH;
		ws[i].current_chunk = -1;
		snprintf(ws[i].me, sizeof(ws[i].me), "%.80s %ld/%d", host, (long)getpid(), i);
	}
	pgphase_verbose("backfill \"%s\": key (%s), ~%lld rows to change, %d worker%s",
			j.rel_display, j.key.display, estimate, n, n == 1 ? "" : "s");
	run_workers(&j, ws, n);
	if (j.err.code) {
		pgphase_error_move(err, &j.err);
		db_rollback(s);
	} else if (j.stop) {
		pgphase_error_set(err, PGPHASE_EXIT_FAILED, "interrupted");
	} else {
		rc = 0;
	}
cleanup:
	if (running) {
		struct pgphase_error e2 = PGPHASE_ERROR_INIT;

		progress_finish(&j.pr, rc == 0);
		if (PQstatus(s->conn) == CONNECTION_OK && bf_totals(&j, s, res, &e2) < 0)
			pgphase_warn("could not read the backfill totals: %s", e2.message);
		pgphase_error_release(&e2);
		throttle_release(&j.th);
	}
	res->rows_run = j.rows_run;
	res->batches_run = j.batches_run;
	res->duration_ms = (now_us() - start) / 1000;
	res->max_batch_ms = j.max_batch_us / 1000;
	res->final_batch_size = j.final_batch_size;
	for (int i = 0; ws && i < n; i++)
		pgphase_error_release(&ws[i].err);
	free(ws);
	release_job(&j);
	return rc;
}
