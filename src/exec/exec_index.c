/*
 * The INDEX step: CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS, outside a transaction,
 * and then the proof that the index the name now designates is the one the step builds.
 *
 * IF NOT EXISTS makes a rerun after a crash harmless, but it skips for ANY relation of the
 * name: a table, an index of another table, an index with other columns.  So before and
 * after the build the name is checked against the statement (src/plan/plan_names.c: the same
 * table, uniqueness and key columns); anything else fails the step with what holds the name.
 * A failed or interrupted concurrent build leaves an INVALID index that IF NOT EXISTS would
 * keep forever: it is dropped CONCURRENTLY and the build retried, at most INDEX_REBUILDS
 * times.  Every way round the loop builds or drops, so it never spins on the catalog.
 *
 * Not here: lock-timeout retries of each statement (exec_steps.c), the plan's choice of name.
 */
#include <stdlib.h>
#include <string.h>

#include "base/db.h"
#include "base/util.h"
#include "exec/exec.h"
#include "plan/plan_names.h"
#include "pgphase/log.h"

#define INDEX_REBUILDS 3

/* Validity of an index by name: no row when it does not exist. */
static const char *const SQL_INDEX_VALID =
	"SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass($1)";

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

/* What the step builds, read back from its statement. */
struct index_want {
	struct pgphase_sql sql;
	struct plan_name_want w;
	const char *name;
	const char **cols;
};

static int want_init(struct index_want *iw, const struct pgphase_step *st,
		     struct pgphase_error *err)
{
	const PgQuery__IndexStmt *ix;

	memset(iw, 0, sizeof(*iw));
	if (pgphase_sql_parse(&iw->sql, st->sql, st->file, err) < 0)
		return -1;
	if (iw->sql.n != 1 || iw->sql.stmts[0].node->node_case != PG_QUERY__NODE__NODE_INDEX_STMT) {
		pgphase_sql_release(&iw->sql);
		return pgphase_error_set(err, PGPHASE_EXIT_FAILED, "index step is not a CREATE INDEX: "
					 "%s", st->sql);
	}
	ix = iw->sql.stmts[0].node->index_stmt;
	iw->cols = xcalloc(ix->n_index_params + 1, sizeof(*iw->cols));
	for (size_t i = 0; i < ix->n_index_params; i++) {
		const PgQuery__IndexElem *e = ix->index_params[i]->index_elem;

		iw->cols[i] = e->name && e->name[0] ? e->name : "";
	}
	iw->w.rv = ix->relation;
	iw->w.index = true;
	iw->w.unique = ix->unique;
	iw->w.cols = iw->cols;
	iw->w.n_cols = ix->n_index_params;
	iw->name = ix->idxname;
	return 0;
}

static void want_release(struct index_want *iw)
{
	free(iw->cols);
	pgphase_sql_release(&iw->sql);
}

/* 0 the name is the wanted index, 1 it is free, -1 failed (err: what holds it). */
static int check_name(struct exec_ctx *x, const struct pgphase_step *st,
		      const struct index_want *iw, struct pgphase_error *err)
{
	struct pgphase_arena *a = pgphase_arena_new();
	char *what = NULL;
	int s = plan_name_state_in(x->s, a, &iw->w, iw->name, &what, err);

	if (s == -1) {
		pgphase_error_at(err, PGPHASE_EXIT_FAILED, "step-failed", st->file, st->line,
				 st->column, "relation %s already exists and is not this index: %s",
				 st->target, what ? what : "another object");
		pgphase_error_detail(err, "statement: %s", st->sql);
		pgphase_error_hint(err, "CREATE INDEX ... IF NOT EXISTS would skip it; choose another "
					"name, or drop that object first");
	}
	pgphase_arena_free(a);
	return s == -2 ? -1 : s;
}

static int build(struct exec_ctx *x, const struct pgphase_step *st, struct pgphase_error *err)
{
	struct pgphase_error e2 = PGPHASE_ERROR_INIT;

	if (exec_retrying(x, st, st->sql, err) == 0)
		return 0;
	if (pgphase_interrupted()) {
		/* DROP INDEX CONCURRENTLY waits for the same transactions the build waited for:
		   leave the INVALID index to the next run, which drops and rebuilds it */
		pgphase_error_prefix(err, "interrupted while building index %s", st->target);
		pgphase_error_hint(err, "an INVALID index may be left; the next run drops and "
					"rebuilds it");
		pgphase_error_release(&e2);
		return -1;
	}
	/* do not leave an INVALID index behind (it would slow every write) */
	if (index_valid(x, st, &e2) == 0 && db_exec(x->s, st->undo_sql, &e2) < 0)
		pgphase_warn("could not drop INVALID index %s: %s", st->target, e2.message);
	pgphase_error_release(&e2);
	return -1;
}

static int run_index_want(struct exec_ctx *x, const struct pgphase_step *st,
			  const struct index_want *iw, struct pgphase_error *err)
{
	for (int builds = 0;; builds++) {
		int v, s = check_name(x, st, iw, err);

		if (s < 0)
			return -1;
		if (s == 0 && (v = index_valid(x, st, err)) != -2) {
			if (v == 1)
				return 0;
			if (v == -1)
				return -1;
			/* INVALID: a concurrent build was interrupted (here or in a killed run) */
			if (builds > INDEX_REBUILDS)
				return pgphase_error_at(err, PGPHASE_EXIT_FAILED, "step-failed", st->file,
							st->line, st->column,
							"index %s is still INVALID after %d builds",
							st->target, INDEX_REBUILDS);
			pgphase_warn("index %s is INVALID (an interrupted concurrent build); dropping "
				     "it and building again", st->target);
			if (exec_retrying(x, st, st->undo_sql, err) < 0)
				return -1;
		} else if (builds > 0) {
			/* built, and still no index of that name: never build blindly again */
			return pgphase_error_at(err, PGPHASE_EXIT_FAILED, "step-failed", st->file,
						st->line, st->column, "index %s does not exist after "
						"it was built", st->target);
		}
		if (pgphase_interrupted())
			return pgphase_error_at(err, PGPHASE_EXIT_FAILED, "step-failed", st->file,
						st->line, st->column, "interrupted while building "
						"index %s", st->target);
		if (build(x, st, err) < 0)
			return -1;
	}
}

int exec_index_run(struct exec_ctx *x, const struct pgphase_step *st, struct pgphase_error *err)
{
	struct index_want iw;
	int rc;

	if (want_init(&iw, st, err) < 0)
		return -1;
	rc = run_index_want(x, st, &iw, err);
	want_release(&iw);
	return rc;
}
