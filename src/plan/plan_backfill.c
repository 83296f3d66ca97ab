/*
 * Keyset-batched data changes.  An UPDATE or DELETE becomes one statement per batch that
 * picks the next batch_size keys after the cursor (in key order, so the whole run is O(rows)
 * and never rescans from the start), changes those rows, and returns how many it changed and
 * the batch's last key:
 *
 *   WITH pgphase_batch AS (SELECT k FROM t WHERE k > $2 AND <pred> ORDER BY k LIMIT $1),
 *        pgphase_done AS (UPDATE t SET ... WHERE (t.k) IN (SELECT k FROM pgphase_batch)
 *                         AND <pred> RETURNING 1)
 *   SELECT (SELECT count(*) FROM pgphase_done), k::text FROM pgphase_batch
 *    ORDER BY k DESC LIMIT 1
 *
 * No row back means the walk is over.  The executor commits the cursor with each batch.
 * The user's SET list, FROM/USING list and WHERE clause are grafted into the template's
 * tree (never spliced as text).  With FROM/USING the predicate may name other tables, so
 * the batch walks every key of the table and only the UPDATE applies the predicate.
 *
 * An INSERT ... SELECT walks the key of its source table (the SELECT's first FROM item);
 * it is checked (pgphase_backfill_check: it must tell rows already copied) here, at plan
 * time.  The engine (src/backfill*.c) builds the statements it runs itself; the SQL here is
 * what `plan` shows.
 */
#include <stdlib.h>
#include <string.h>

#include "pgphase/backfill.h"
#include "plan/plan_int.h"
#include "base/util.h"

static const char *const SQL_BATCH_UPDATE =
	"WITH pgphase_batch AS (SELECT %s FROM %s WHERE %s AND %s ORDER BY %s LIMIT $1),"
	" pgphase_done AS (UPDATE %s SET pgphase_set = NULL WHERE (%s) IN (SELECT %s FROM pgphase_batch)"
	"   AND %s RETURNING 1)"
	" SELECT (SELECT count(*) FROM pgphase_done), %s FROM pgphase_batch ORDER BY %s LIMIT 1";

/* INSERT ... SELECT: the SELECT's FROM list, target list and ORDER BY replace pgphase_tl and
   the template's FROM item; the INSERT takes the user's table, columns and ON CONFLICT. */
static const char *const SQL_BATCH_INSERT =
	"WITH pgphase_batch AS (SELECT %s FROM %s WHERE %s AND %s ORDER BY %s LIMIT $1),"
	" pgphase_done AS (INSERT INTO pgphase_ins SELECT pgphase_tl FROM %s"
	"   WHERE (%s) IN (SELECT %s FROM pgphase_batch) AND %s RETURNING 1)"
	" SELECT (SELECT count(*) FROM pgphase_done), %s FROM pgphase_batch ORDER BY %s LIMIT 1";

static const char *const SQL_BATCH_DELETE =
	"WITH pgphase_batch AS (SELECT %s FROM %s WHERE %s AND %s ORDER BY %s LIMIT $1),"
	" pgphase_done AS (DELETE FROM %s WHERE (%s) IN (SELECT %s FROM pgphase_batch)"
	"   AND %s RETURNING 1)"
	" SELECT (SELECT count(*) FROM pgphase_done), %s FROM pgphase_batch ORDER BY %s LIMIT 1";

struct key_lists {
	struct sbuf cols, qualified, text, desc, cursor, params;
};

static void build_lists(struct key_lists *k, char **key, const char *qual)
{
	size_t n = 0;

	memset(k, 0, sizeof(*k));
	for (; key[n]; n++) {
		char *c = sql_ident(key[n]);
		const char *sep = n ? ", " : "";

		sbuf_addf(&k->cols, "%s%s", sep, c);
		sbuf_addf(&k->qualified, "%s%s.%s", sep, qual, c);
		sbuf_addf(&k->text, "%s%s::text", sep, c);
		sbuf_addf(&k->desc, "%s%s DESC", sep, c);
		sbuf_addf(&k->params, "%s$%zu", sep, n + 2);
		free(c);
	}
	/* (k1, k2) > ($2, $3): row comparison walks a composite key in index order */
	sbuf_addf(&k->cursor, "(%s) > (%s)", k->cols.buf, k->params.buf);
}

static void release_lists(struct key_lists *k)
{
	sbuf_release(&k->cols);
	sbuf_release(&k->qualified);
	sbuf_release(&k->text);
	sbuf_release(&k->desc);
	sbuf_release(&k->cursor);
	sbuf_release(&k->params);
}

/* The DML statement inside the template's pgphase_done CTE. */
static PgQuery__Node *inner_dml(const PgQuery__Node *tmpl)
{
	const PgQuery__WithClause *w = tmpl->select_stmt->with_clause;

	return w->ctes[1]->common_table_expr->ctequery;
}

/* The user's INSERT ... SELECT pieces into the template's, for the duration of the deparse. */
static char *render_insert(PgQuery__Node *tmpl, PgQuery__InsertStmt *ins,
			   const PgQuery__Node *dml, const struct sql_graft *g,
			   struct pgphase_error *err)
{
	PgQuery__SelectStmt *ts = ins->select_stmt->select_stmt, saved_ts = *ts;
	PgQuery__InsertStmt saved = *ins;
	char *out;

	pgphase_backfill_graft_insert(ins, dml);
	out = sql_render_tree(tmpl, g, 1, err);
	*ts = saved_ts;
	*ins = saved;
	return out;
}

/* Render one variant (with or without the cursor condition). */
static char *render(struct plan_ctx *ctx, const PgQuery__Node *dml, const struct key_lists *k,
		    const char *rel, bool cursor, struct pgphase_error *err)
{
	bool upd = dml->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT;
	bool ins = dml->node_case == PG_QUERY__NODE__NODE_INSERT_STMT;
	const PgQuery__SelectStmt *sel = ins ? dml->insert_stmt->select_stmt->select_stmt : NULL;
	const PgQuery__Node *where = upd ? dml->update_stmt->where_clause
				     : ins ? sel->where_clause : dml->delete_stmt->where_clause;
	bool joined = upd ? dml->update_stmt->n_from_clause > 0
		      : ins ? sel->n_from_clause > 1 : dml->delete_stmt->n_using_clause > 0;
	const char *pred = where ? "pgphase_slot_pred" : "true";
	struct sql_graft g = { "pred", where, NULL };
	char *text, *out;
	PgQuery__Node *tmpl, *inner;

	text = xasprintf(upd ? SQL_BATCH_UPDATE : ins ? SQL_BATCH_INSERT : SQL_BATCH_DELETE, k->cols.buf, rel,
			 cursor ? k->cursor.buf : "true", joined ? "true" : pred, k->cols.buf, rel,
			 k->qualified.buf, k->cols.buf, pred, k->text.buf, k->desc.buf);
	tmpl = (PgQuery__Node *)plan_parse_node(ctx, text, err);
	free(text);
	if (!tmpl)
		return NULL;
	inner = inner_dml(tmpl);
	if (ins)
		return render_insert(tmpl, inner->insert_stmt, dml, &g, err);
	if (upd) {
		PgQuery__UpdateStmt *u = inner->update_stmt, saved = *u;

		/* the user's SET list and FROM list, for the duration of the deparse */
		u->n_target_list = dml->update_stmt->n_target_list;
		u->target_list = dml->update_stmt->target_list;
		u->n_from_clause = dml->update_stmt->n_from_clause;
		u->from_clause = dml->update_stmt->from_clause;
		out = sql_render_tree(tmpl, &g, 1, err);
		*u = saved;
	} else {
		PgQuery__DeleteStmt *d = inner->delete_stmt, saved = *d;

		d->n_using_clause = dml->delete_stmt->n_using_clause;
		d->using_clause = dml->delete_stmt->using_clause;
		out = sql_render_tree(tmpl, &g, 1, err);
		*d = saved;
	}
	return out;
}

int plan_backfill(struct plan_ctx *ctx, const struct pgphase_strategy *by,
		  const struct strategy_input *in, const PgQuery__Node *dml, struct pgphase_error *err)
{
	bool upd = dml->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT;
	bool ins = dml->node_case == PG_QUERY__NODE__NODE_INSERT_STMT;
	const char *verb = upd ? "UPDATE" : ins ? "INSERT ... SELECT" : "DELETE";
	const PgQuery__RangeVar *rv = pgphase_backfill_source(dml);
	bool extra = upd ? dml->update_stmt->with_clause || dml->update_stmt->n_returning_list
		     : ins ? false
		     : dml->delete_stmt->with_clause || dml->delete_stmt->n_returning_list;
	char **key, *rel, *qual, *first = NULL, *next = NULL;
	struct key_lists k;
	struct pgphase_step *st;
	int rc = -1;

	if (ins) {
		/* refused here, before anything runs, rather than by the engine mid-migration */
		struct pgphase_backfill_spec spec = { 0 };

		spec.stmt = dml;
		spec.file = ctx->m->up.file;
		spec.line = in->stmt->line;
		spec.column = in->stmt->column;
		if (pgphase_backfill_check(&spec, err) < 0)
			return -1;
	}
	if (extra) {
		plan_fail(ctx, in, err, "cannot run %s in batches: WITH and RETURNING are not "
			  "supported in a backfill", verb);
		pgphase_error_hint(err, "drop the WITH/RETURNING clause, or put \"-- pgphase:as-is\" "
					"before it to run it in one transaction");
		return -1;
	}
	key = plan_table_key(ctx, rv);
	if (!key && plan_phase(in, PGPHASE_PHASE_BACKFILL) <= ctx->opts.done_through) {
		/* already ran (with --key): keep its place in the plan, never run it again */
		st = plan_add(ctx, by, in, plan_phase(in, PGPHASE_PHASE_BACKFILL), PGPHASE_TXN_NONE,
			      xstrdup("-- done (key given with --key when it ran)"), NULL);
		st->kind = PGPHASE_STEP_BACKFILL;
		st->first_sql = xstrdup(st->sql);
		st->target = sql_rel_display(rv);
		st->dml = sql_deparse(dml, err);
		return st->dml ? 0 : -1;
	}
	if (!key) {
		char *name = sql_rel_display(rv);

		plan_fail(ctx, in, err, "cannot run %s on \"%s\" in batches: cannot find the table's "
			  "key (a primary key, or a unique index over NOT NULL columns)",
			  verb, name);
		pgphase_error_hint(err, "%s; or pass --key COLUMN[,COLUMN]; or put "
					"\"-- pgphase:as-is\" before the statement",
				   ctx->opts.session ? "add a primary key"
						     : "offline, keys come only from CREATE TABLE "
						       "statements in the migrations directory");
		free(name);
		return -1;
	}
	rel = sql_rel(rv);
	if (rv->alias && rv->alias->aliasname && rv->alias->aliasname[0]) {
		/* columns are qualified by the alias the user's clauses use */
		char *table = rel;

		qual = sql_ident(rv->alias->aliasname);
		rel = xasprintf("%s AS %s", table, qual);
		free(table);
	} else {
		qual = sql_ident(rv->relname);
	}
	build_lists(&k, key, qual);
	first = render(ctx, dml, &k, rel, false, err);
	next = first ? render(ctx, dml, &k, rel, true, err) : NULL;
	if (!next)
		goto cleanup;
	st = plan_add(ctx, by, in, plan_phase(in, PGPHASE_PHASE_BACKFILL), PGPHASE_TXN_NONE, next, NULL);
	next = NULL;
	st->kind = PGPHASE_STEP_BACKFILL;
	st->retry_lock = true;
	st->first_sql = first;
	first = NULL;
	st->target = sql_rel_display(rv);
	for (st->n_key = 0; key[st->n_key]; st->n_key++)
		;
	st->batch_size = in->note ? in->note->batch_size : 0;
	st->dml = sql_deparse(dml, err);
	if (!st->dml)
		goto cleanup;
	rc = 0;
cleanup:
	free(first);
	free(next);
	free(rel);
	free(qual);
	release_lists(&k);
	return rc;
}
