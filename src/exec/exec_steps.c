/*
 * Steps that manage their own transactions (the executor records progress around them):
 *
 *   SQL outside a transaction — retried on lock timeouts (55P03) with backoff; such steps
 *     are idempotent by construction (IF [NOT] EXISTS), so a rerun after a crash is safe.
 *   INDEX — CREATE INDEX CONCURRENTLY IF NOT EXISTS, then the proof that the name holds
 *     this index and that it is valid (src/exec/exec_index.c).
 *   BACKFILL — the backfill engine (include/pgphase/backfill.h) runs the step's spec (its
 *     statement, the key the planner resolved, the batch size): key-ordered batches that
 *     skip rows the app holds locked (swept up at the end), cursor and counters committed
 *     with each batch, throttles, workers, progress.
 *   CHECK_NULLS — counts NULLs before NOT NULL work; any row fails the step with the count
 *     before anything of the phase changed.
 *
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/db.h"
#include "exec/exec.h"
#include "pgphase/backfill.h"
#include "pgphase/log.h"
#include "state/state.h"
#include "base/util.h"

int exec_retrying(struct exec_ctx *x, const struct pgphase_step *st, const char *sql,
			 struct pgphase_error *err)
{
	int64_t started = now_us();

	for (int attempt = 0;; attempt++) {
		pgphase_verbose("  %s:%d: %s", st->file, st->line, sql);
		if (db_exec(x->s, sql, err) == 0)
			return 0;
		if (!st->retry_lock || !db_failed_with(x->s, SQLSTATE_LOCK_NOT_AVAILABLE))
			return exec_step_error(x->s, st, err);
		if (!exec_backoff(x, attempt, started))
			return exec_lock_gave_up(x, st, attempt + 1, started, err);
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

/* ---- backfill: the engine (include/pgphase/backfill.h) ------------------------------ */

int exec_backfill_step(struct exec_ctx *x, const struct pgphase_step *st, size_t index,
		       struct pgphase_error *err)
{
	struct pgphase_backfill_options o;
	struct pgphase_backfill_spec spec;
	struct pgphase_backfill_result res;
	struct pgphase_sql sql;
	int rc;

	if (pgphase_sql_parse(&sql, st->dml, st->file, err) < 0)
		return -1;
	pgphase_backfill_options_init(&o, x->s->cfg);
	memset(&spec, 0, sizeof(spec));
	spec.stmt = sql.stmts[0].node;
	spec.version = x->m->version;
	spec.step = (int)index; /* the progress key the planner's loop used too */
	spec.key = x->key;
	spec.resolved = st->key.n > 0 ? &st->key : NULL; /* the planner's: one resolution */
	spec.batch_size = st->batch_size;
	/* the user's data change: its old values are kept for rollback (src/run/run_restore.c) */
	spec.keep_old = st->strategy && strcmp(st->strategy, "data-change-to-backfill") == 0 &&
			pgphase_plan_keeps_old(x->plan, spec.stmt);
	spec.file = st->file;
	spec.line = st->line;
	spec.column = st->column;
	rc = pgphase_backfill_run(x->s, &spec, &o, &res, err);
	if (rc == 0) {
		x->backfill_rows += res.rows;
		x->backfill_swept += res.rows_swept;
		x->backfill_batches += res.batches;
		pgphase_info("  backfill %s: %lld rows (%lld swept after the app released them) in "
			     "%lld batches, %.1f s", res.table, res.rows, res.rows_swept, res.batches,
			     res.duration_ms / 1000.0);
	}
	pgphase_backfill_result_release(&res);
	pgphase_sql_release(&sql);
	return rc;
}

int exec_step_run(struct exec_ctx *x, size_t i, struct pgphase_error *err)
{
	const struct pgphase_step *st = &x->plan->steps[i];

	switch (st->kind) {
	case PGPHASE_STEP_INDEX:
		return exec_index_run(x, st, err);
	case PGPHASE_STEP_BACKFILL:
		return exec_backfill_step(x, st, i, err);
	case PGPHASE_STEP_CHECK_NULLS:
		return run_check_nulls(x, st, err);
	default:
		return exec_retrying(x, st, st->sql, err);
	}
}
