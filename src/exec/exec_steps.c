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
 *   A CREATE INDEX CONCURRENTLY run as written (a no-transaction file) that failed or was
 *     interrupted leaves an INVALID index of its name, and the rerun of the statement,
 *     fixed in place or not, would fail on it ("already exists"): before the statement runs,
 *     an INVALID index of exactly that name on that table is dropped CONCURRENTLY.
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

/* $1 the index name, $2 its table (quoted, maybe qualified): its schema when it is INVALID. */
static const char *const SQL_INVALID_INDEX =
	"SELECT n.nspname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
	"  JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relname = $1 AND i.indrelid = to_regclass($2) AND NOT i.indisvalid";

static int drop_invalid_leftover(struct exec_ctx *x, const struct pgphase_step *st,
				 struct pgphase_error *err)
{
	struct pgphase_sql sql;
	const PgQuery__IndexStmt *ix;
	char *table = NULL, *drop = NULL;
	PGresult *r = NULL;
	int rc = 0;

	if (pgphase_sql_parse(&sql, st->sql, st->file, err) < 0)
		return -1;
	if (sql.n != 1 || sql.stmts[0].node->node_case != PG_QUERY__NODE__NODE_INDEX_STMT ||
	    !(ix = sql.stmts[0].node->index_stmt)->concurrent || !ix->idxname || !ix->idxname[0] ||
	    !ix->relation)
		goto cleanup;
	{
		char *rel = db_ident(x->s, ix->relation->relname);
		char *nsp = ix->relation->schemaname && ix->relation->schemaname[0]
			? db_ident(x->s, ix->relation->schemaname) : NULL;
		const char *params[2] = { ix->idxname, NULL };

		table = nsp ? xasprintf("%s.%s", nsp, rel) : xstrdup(rel);
		free(nsp);
		free(rel);
		params[1] = table;
		r = db_query(x->s, SQL_INVALID_INDEX, 2, params, PGRES_TUPLES_OK, err);
	}
	if (!r) {
		rc = -1;
	} else if (PQntuples(r) > 0) {
		char *nsp = db_ident(x->s, PQgetvalue(r, 0, 0)), *name = db_ident(x->s, ix->idxname);

		drop = xasprintf("DROP INDEX CONCURRENTLY IF EXISTS %s.%s", nsp, name);
		free(nsp);
		free(name);
		pgphase_warn("index %s is INVALID (a failed or interrupted concurrent build); dropping "
			     "it before %s:%d runs", ix->idxname, st->file, st->line);
		rc = exec_retrying(x, st, drop, err);
	}
cleanup:
	PQclear(r);
	free(drop);
	free(table);
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
		if (st->txn == PGPHASE_TXN_NONE && drop_invalid_leftover(x, st, err) < 0)
			return -1;
		return exec_retrying(x, st, st->sql, err);
	}
}
