/*
 * Steps that manage their own transactions (the executor records progress around them):
 *
 *   SQL outside a transaction — retried on lock timeouts (55P03) with backoff; such steps
 *     are idempotent by construction (IF [NOT] EXISTS), so a rerun after a crash is safe.
 *   INDEX — CREATE INDEX CONCURRENTLY IF NOT EXISTS, then pg_index.indisvalid.  A failed or
 *     interrupted concurrent build leaves an INVALID index that IF NOT EXISTS would keep
 *     forever: it is dropped CONCURRENTLY and the build retried, at most INDEX_REBUILDS times.
 *   BACKFILL — the keyset-batched loop planned by src/plan_backfill.c: each batch runs in its
 *     own transaction together with its cursor and counts in <state>.backfill_progress, so
 *     after kill -9 a rerun continues after the last committed batch, losing and repeating
 *     nothing.  Throttled by --sleep and --max-rows-per-second on an absolute schedule.
 *   CHECK_NULLS — counts NULLs before NOT NULL work; any row fails the step with the count
 *     before anything of the phase changed.
 *
 * The backfill loop here is the simple one of the planner's issue.  The full engine
 * (include/pgphase/backfill.h: SKIP LOCKED, sweeps, workers, adaptive throttling) plugs in
 * at run_backfill(): its spec is the step's dml (parse it), version, step index (the same
 * progress key), batch_size, and the --key given to the command.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "db.h"
#include "exec.h"
#include "pgphase/log.h"
#include "state.h"
#include "util.h"

#define INDEX_REBUILDS 3
#define PROGRESS_EVERY_US (5 * 1000000LL)

/* Validity of an index by name: no row when it does not exist. */
static const char *const SQL_INDEX_VALID =
	"SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)";

/* $1 module, $2 version, $3 step */
static const char *const SQL_PROGRESS_LOAD =
	"SELECT cursor::text, done, rows_done FROM @S@.backfill_progress"
	" WHERE module = $1 AND version = $2::bigint AND step = $3::int AND chunk = 0";

/* $4 table, $5 cursor (jsonb array of key values as text), $6 rows in this batch, $7 done */
static const char *const SQL_PROGRESS_SAVE =
	"INSERT INTO @S@.backfill_progress AS p (module, version, step, table_name, chunk, cursor,"
	"   rows_done, batches, done, updated_at)"
	" VALUES ($1, $2::bigint, $3::int, $4, 0, $5::jsonb, $6::bigint, 1, $7::boolean, now())"
	" ON CONFLICT (module, version, step, chunk) DO UPDATE SET"
	"   cursor = coalesce(EXCLUDED.cursor, p.cursor), rows_done = p.rows_done + EXCLUDED.rows_done,"
	"   batches = p.batches + 1, done = EXCLUDED.done, updated_at = now()";

/* Run sql outside a transaction, retrying lock timeouts within the budget. */
static int exec_retrying(struct exec_ctx *x, const struct pgphase_step *st, const char *sql,
			 struct pgphase_error *err)
{
	int64_t started = now_us();

	for (int attempt = 0;; attempt++) {
		pgphase_verbose("  %s:%d: %s", st->file, st->line, sql);
		if (db_exec(x->s, sql, err) == 0)
			return 0;
		if (!(st->retry_lock && db_failed_with(x->s, SQLSTATE_LOCK_NOT_AVAILABLE) &&
		      exec_backoff(x, attempt, started)))
			return exec_step_error(x->s, st, err);
	}
}

/* 1 valid, 0 invalid, -2 absent, -1 error */
static int index_valid(struct exec_ctx *x, const struct pgphase_step *st, struct pgphase_error *err)
{
	const char *params[1] = { st->target };
	PGresult *r = db_query(x->s, SQL_INDEX_VALID, 1, params, PGRES_TUPLES_OK, err);
	int v;

	if (!r)
		return -1;
	v = PQntuples(r) == 0 ? -2 : strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return v;
}

static int run_index(struct exec_ctx *x, const struct pgphase_step *st, struct pgphase_error *err)
{
	int rebuilds = 0;

	for (;;) {
		int v = index_valid(x, st, err);

		if (v == 1)
			return 0;
		if (v == -1)
			return -1;
		if (v == 0) {
			if (rebuilds++ == INDEX_REBUILDS)
				return pgphase_error_at(err, PGPHASE_EXIT_FAILED, "step-failed", st->file,
							st->line, st->column,
							"index %s is still INVALID after %d builds",
							st->target, INDEX_REBUILDS);
			pgphase_warn("index %s is INVALID (an interrupted concurrent build); dropping "
				     "it and building again", st->target);
			if (exec_retrying(x, st, st->undo_sql, err) < 0)
				return -1;
		}
		if (exec_retrying(x, st, st->sql, err) < 0) {
			struct pgphase_error e2 = PGPHASE_ERROR_INIT;

			/* do not leave an INVALID index behind (it would slow every write) */
			if (index_valid(x, st, &e2) == 0 && db_exec(x->s, st->undo_sql, &e2) < 0)
				pgphase_warn("could not drop INVALID index %s: %s", st->target, e2.message);
			pgphase_error_release(&e2);
			return -1;
		}
	}
}

static int run_check_nulls(struct exec_ctx *x, const struct pgphase_step *st,
			   struct pgphase_error *err)
{
	PGresult *r = db_query(x->s, st->sql, 0, NULL, PGRES_TUPLES_OK, err);
	long long n;

	if (!r)
		return exec_step_error(x->s, st, err);
	n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	if (n == 0)
		return 0;
	pgphase_error_at(err, PGPHASE_EXIT_FAILED, "not-null-violated", st->file, st->line, st->column,
			 "cannot set NOT NULL: column %s still has %lld row%s with NULL", st->target, n,
			 n == 1 ? "" : "s");
	pgphase_error_detail(err, "count: %s", st->sql);
	pgphase_error_hint(err, "fill the NULLs (the new app, or an UPDATE under \"-- BACKFILL\"), "
				"then run this phase again; nothing of it has changed");
	return -1;
}

/* ---- backfill loop ------------------------------------------------------------------- */

struct loop {
	struct exec_ctx *x;
	const struct pgphase_step *st;
	char version[24], step[16];
	char *cursor;         /* jsonb text of the last key, NULL before the first batch */
	char **keyvals;       /* parsed cursor */
	long long rows, batches;
	int64_t next_slot_us; /* throttling: absolute schedule */
	int64_t last_log_us, started_us;
};

static void loop_set_cursor(struct loop *l, const PGresult *r)
{
	json_t *arr = json_array();

	for (int k = 0; k < l->st->n_key; k++) {
		free(l->keyvals[k]);
		l->keyvals[k] = xstrdup(PQgetvalue(r, 0, k + 1));
		json_array_append_new(arr, json_string(l->keyvals[k]));
	}
	free(l->cursor);
	l->cursor = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
}

static int loop_load(struct loop *l, bool *done, struct pgphase_error *err)
{
	const char *params[3] = { l->x->s->cfg->module, l->version, l->step };
	char *sql = state_sql(l->x->s, SQL_PROGRESS_LOAD);
	PGresult *r = db_query(l->x->s, sql, 3, params, PGRES_TUPLES_OK, err);

	free(sql);
	if (!r)
		return -1;
	*done = false;
	if (PQntuples(r) == 1) {
		*done = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
		l->rows = atoll(PQgetvalue(r, 0, 2));
		if (!PQgetisnull(r, 0, 0)) {
			json_t *arr = json_loads(PQgetvalue(r, 0, 0), 0, NULL);

			for (int k = 0; arr && k < l->st->n_key && k < (int)json_array_size(arr); k++)
				l->keyvals[k] = xstrdup(json_string_value(json_array_get(arr, (size_t)k)));
			l->cursor = xstrdup(PQgetvalue(r, 0, 0));
			json_decref(arr);
		}
	}
	PQclear(r);
	return 0;
}

/* One batch and its progress row in one transaction: 1 more to do, 0 done, -1 error. */
static int loop_batch(struct loop *l, long batch, struct pgphase_error *err)
{
	struct pgphase_session *s = l->x->s;
	const char **params = xcalloc((size_t)l->st->n_key + 1, sizeof(*params));
	char size[24], count[24], *sql = NULL;
	const char *save[7];
	PGresult *r = NULL;
	bool more;
	int rc = -1;

	snprintf(size, sizeof(size), "%ld", batch);
	params[0] = size;
	for (int k = 0; k < l->st->n_key; k++)
		params[k + 1] = l->keyvals[k];
	if (db_exec(s, "BEGIN", err) < 0)
		goto cleanup;
	r = l->cursor ? db_query(s, l->st->sql, l->st->n_key + 1, params, PGRES_TUPLES_OK, err)
		      : db_query(s, l->st->first_sql, 1, params, PGRES_TUPLES_OK, err);
	if (!r)
		goto fail;
	more = PQntuples(r) == 1;
	snprintf(count, sizeof(count), "%s", more ? PQgetvalue(r, 0, 0) : "0");
	if (more)
		loop_set_cursor(l, r);
	save[0] = s->cfg->module;
	save[1] = l->version;
	save[2] = l->step;
	save[3] = l->st->target;
	save[4] = more ? l->cursor : NULL;
	save[5] = count;
	save[6] = more ? "false" : "true";
	sql = state_sql(s, SQL_PROGRESS_SAVE);
	if (db_command(s, sql, 7, save, err) < 0 || db_exec(s, "COMMIT", err) < 0)
		goto fail;
	l->rows += atoll(count);
	l->batches++;
	rc = more ? 1 : 0;
	goto cleanup;
fail:
	db_rollback(s);
cleanup:
	PQclear(r);
	free(sql);
	free(params);
	return rc;
}

/* Sleep between batches: --sleep, and --max-rows-per-second on an absolute schedule. */
static void loop_throttle(struct loop *l, long batch_rows)
{
	const struct pgphase_backfill_config *b = &l->x->s->cfg->backfill;
	int64_t now = now_us(), wait = (int64_t)b->sleep_ms * 1000;

	if (b->max_rows_per_second > 0) {
		if (!l->next_slot_us)
			l->next_slot_us = now;
		l->next_slot_us += batch_rows * 1000000LL / b->max_rows_per_second;
		if (l->next_slot_us - now > wait)
			wait = l->next_slot_us - now;
	}
	if (wait > 0 && !pgphase_interrupted())
		usleep((useconds_t)wait);
	if (now - l->last_log_us >= PROGRESS_EVERY_US) {
		pgphase_info("  backfill %s: %lld rows in %lld batches (%.0f rows/s)", l->st->target,
			     l->rows, l->batches,
			     l->rows / ((now - l->started_us) / 1e6 > 0 ? (now - l->started_us) / 1e6 : 1));
		l->last_log_us = now;
	}
}

static int run_backfill(struct exec_ctx *x, const struct pgphase_step *st, size_t index,
			struct pgphase_error *err)
{
	struct loop l;
	long batch = st->batch_size > 0 ? st->batch_size : x->s->cfg->backfill.batch_size;
	bool done = false;
	int rc = -1, attempt = 0;
	int64_t retry_started = 0;

	memset(&l, 0, sizeof(l));
	l.x = x;
	l.st = st;
	l.keyvals = xcalloc((size_t)st->n_key + 1, sizeof(*l.keyvals));
	l.started_us = l.last_log_us = now_us();
	snprintf(l.version, sizeof(l.version), "%lld", (long long)x->m->version);
	snprintf(l.step, sizeof(l.step), "%zu", index);
	if (batch <= 0)
		batch = 1000;
	if (loop_load(&l, &done, err) < 0)
		goto cleanup;
	if (!done && l.cursor)
		pgphase_info("  backfill %s: resuming after %s (%lld rows done)", st->target, l.cursor,
			     l.rows);
	while (!done) {
		int more;

		if (pgphase_interrupted()) {
			pgphase_error_set(err, PGPHASE_EXIT_FAILED, "interrupted");
			goto cleanup;
		}
		more = loop_batch(&l, batch, err);
		if (more < 0) {
			/* a batch waiting on an app's row lock gives up after lock_timeout: retry */
			if (db_failed_with(x->s, SQLSTATE_LOCK_NOT_AVAILABLE)) {
				if (!retry_started)
					retry_started = now_us();
				if (exec_backoff(x, attempt++, retry_started))
					continue;
			}
			exec_step_error(x->s, st, err);
			goto cleanup;
		}
		attempt = 0;
		retry_started = 0;
		done = more == 0;
		if (!done)
			loop_throttle(&l, batch);
	}
	pgphase_info("  backfill %s: done, %lld rows in %lld batches", st->target, l.rows, l.batches);
	rc = 0;
cleanup:
	for (int k = 0; k < st->n_key; k++)
		free(l.keyvals[k]);
	free(l.keyvals);
	free(l.cursor);
	return rc;
}

int exec_step_run(struct exec_ctx *x, size_t i, struct pgphase_error *err)
{
	const struct pgphase_step *st = &x->plan->steps[i];

	switch (st->kind) {
	case PGPHASE_STEP_INDEX:
		return run_index(x, st, err);
	case PGPHASE_STEP_BACKFILL:
		return run_backfill(x, st, i, err);
	case PGPHASE_STEP_CHECK_NULLS:
		return run_check_nulls(x, st, err);
	default:
		return exec_retrying(x, st, st->sql, err);
	}
}
