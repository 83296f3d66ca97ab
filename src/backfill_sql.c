/*
 * The statements a backfill runs, rendered once per run from templates (backfill_check.c
 * grafts the user's table, SET list, FROM/USING list and WHERE clause in).  Key columns are
 * quoted with PQescapeIdentifier; key types come from format_type().
 *
 * A walk batch is one statement, run in the transaction that claimed the chunk row:
 *
 *   pgphase_todo     the next $5 rows after the cursor (up to the chunk's upper bound) that
 *                    match the predicate, in key order: an index range scan from the cursor
 *   pgphase_locked   those rows locked FOR UPDATE SKIP LOCKED, fetched by ctid (TID scan)
 *   pgphase_done     the change, on the locked rows only (by ctid; we hold their locks)
 *   pgphase_skipped  keys of the rows another session held locked, kept for the sweep
 *   pgphase_progress cursor = last key of pgphase_todo, counters, claim: same transaction
 *
 * A row updated by someone else between the snapshot and the lock fails the ctid recheck,
 * is not locked, and so is remembered as skipped: the sweep looks at it again.
 * With FROM/USING the predicate may name other tables, so only the change applies it.
 *
 * A sweep batch takes stored skipped keys, locks and changes those rows (SKIP LOCKED, or at
 * the very end waiting under lock_timeout) and forgets every key except the ones still
 * locked by others.
 */
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "db.h"
#include "state.h"
#include "util.h"

/*
 * Walk batch.  %1$s key columns qualified, %2$s cursor/upper conditions, %3$s predicate for
 * the scans (placeholder or true), %4$s qualifier, %5$s key as a jsonb array of text from t,
 * %6$s key columns of t descending, %7$s the change.
 * $1 module, $2 version, $3 step, $4 chunk, $5 batch size, $6 claimed_by, then the bounds.
 */
static const char *const SQL_WALK_BATCH =
	"WITH pgphase_todo AS MATERIALIZED ("
	"   SELECT %1$s, %4$s.ctid AS pgphase_tid FROM pgphase_rel"
	"    WHERE %2$s %3$s ORDER BY %1$s LIMIT $5),"
	" pgphase_locked AS MATERIALIZED ("
	"   SELECT %4$s.ctid AS pgphase_tid FROM pgphase_rel"
	"    WHERE %4$s.ctid = ANY (ARRAY(SELECT pgphase_tid FROM pgphase_todo)) AND %3$s"
	"      FOR UPDATE SKIP LOCKED),"
	" pgphase_done AS (%7$s),"
	" pgphase_skipped AS ("
	"   INSERT INTO @S@.backfill_skipped (module, version, step, chunk, key)"
	"   SELECT $1, $2, $3, $4, %5$s FROM pgphase_todo t"
	"    WHERE t.pgphase_tid NOT IN (SELECT pgphase_tid FROM pgphase_locked)"
	"   ON CONFLICT DO NOTHING RETURNING 1),"
	" pgphase_last AS (SELECT %5$s AS k FROM pgphase_todo t ORDER BY %6$s LIMIT 1),"
	" pgphase_progress AS ("
	"   UPDATE @S@.backfill_progress SET cursor = coalesce((SELECT k FROM pgphase_last), cursor),"
	"     rows_done = rows_done + (SELECT count(*) FROM pgphase_done),"
	"     rows_skipped = rows_skipped + (SELECT count(*) FROM pgphase_skipped),"
	"     batches = batches + 1, done = (SELECT count(*) FROM pgphase_todo) < $5,"
	"     claimed_by = $6, updated_at = now()"
	"    WHERE module = $1 AND version = $2 AND step = $3 AND chunk = $4 RETURNING 1)"
	" SELECT (SELECT count(*) FROM pgphase_done), (SELECT count(*) FROM pgphase_todo),"
	"        (SELECT count(*) FROM pgphase_skipped), (SELECT count(*) FROM pgphase_progress)";

/* The change: on locked rows by ctid.  %1$s qualifier, %2$s predicate. */
static const char *const SQL_CHANGE_UPDATE =
	"UPDATE pgphase_rel SET pgphase_set = NULL"
	" WHERE %1$s.ctid = ANY (ARRAY(SELECT pgphase_tid FROM pgphase_locked)) AND %2$s RETURNING 1";
static const char *const SQL_CHANGE_DELETE =
	"DELETE FROM pgphase_rel"
	" WHERE %1$s.ctid = ANY (ARRAY(SELECT pgphase_tid FROM pgphase_locked)) AND %2$s RETURNING 1";

/*
 * Sweep batch.  %1$s key columns qualified, %2$s stored keys as typed values (from k),
 * %3$s scan predicate, %4$s qualifier, %5$s "SKIP LOCKED" or "", %6$s the change,
 * %7$s stored keys of s as typed values, %8$s key column names of pgphase_stay.
 * $1 module, $2 version, $3 step, $4 batch size, $5 claimed_by.
 */
static const char *const SQL_SWEEP_BATCH =
	"WITH pgphase_keys AS MATERIALIZED ("
	"   SELECT k.key FROM @S@.backfill_skipped k"
	"    WHERE k.module = $1 AND k.version = $2 AND k.step = $3 ORDER BY k.key LIMIT $4),"
	" pgphase_todo AS MATERIALIZED ("
	"   SELECT %1$s, %4$s.ctid AS pgphase_tid FROM pgphase_rel"
	"    WHERE (%1$s) IN (SELECT %2$s FROM pgphase_keys k) AND %3$s),"
	" pgphase_locked AS MATERIALIZED ("
	"   SELECT %4$s.ctid AS pgphase_tid FROM pgphase_rel"
	"    WHERE %4$s.ctid = ANY (ARRAY(SELECT pgphase_tid FROM pgphase_todo)) AND %3$s"
	"      FOR UPDATE %5$s),"
	" pgphase_done AS (%6$s),"
	" pgphase_stay AS (SELECT %8$s FROM pgphase_todo t"
	"    WHERE t.pgphase_tid NOT IN (SELECT pgphase_tid FROM pgphase_locked)),"
	" pgphase_forget AS ("
	"   DELETE FROM @S@.backfill_skipped s"
	"    WHERE s.module = $1 AND s.version = $2 AND s.step = $3"
	"      AND s.key IN (SELECT key FROM pgphase_keys)"
	"      AND (%7$s) NOT IN (SELECT %8$s FROM pgphase_stay) RETURNING 1),"
	" pgphase_progress AS ("
	"   UPDATE @S@.backfill_progress SET rows_done = rows_done + (SELECT count(*) FROM pgphase_done),"
	"     rows_swept = rows_swept + (SELECT count(*) FROM pgphase_done),"
	"     batches = batches + 1, claimed_by = $5, updated_at = now()"
	"    WHERE module = $1 AND version = $2 AND step = $3 AND chunk = -1"
	"      AND EXISTS (SELECT FROM pgphase_keys) RETURNING 1)"
	" SELECT (SELECT count(*) FROM pgphase_done), (SELECT count(*) FROM pgphase_keys),"
	"        (SELECT count(*) FROM pgphase_forget), (SELECT count(*) FROM pgphase_progress)";

/*
 * Estimate and chunk boundaries from a block sample ($1 percent of the pages): the sample
 * size, how many sampled rows match the predicate, and every ($2)th key in key order.
 * %1$s key columns qualified, %2$s match expression, %3$s key names, %4$s key as jsonb text.
 */
static const char *const SQL_SAMPLE =
	"WITH pgphase_sample AS MATERIALIZED ("
	"   SELECT %1$s, (%2$s) AS pgphase_match FROM pgphase_rel TABLESAMPLE SYSTEM ($1)),"
	" pgphase_ranked AS ("
	"   SELECT t.*, row_number() OVER (ORDER BY %3$s) AS pgphase_rn, count(*) OVER () AS pgphase_n"
	"     FROM pgphase_sample t)"
	" SELECT pgphase_n, (SELECT count(*) FROM pgphase_sample WHERE pgphase_match), %4$s::text"
	"   FROM pgphase_ranked t WHERE pgphase_rn %% $2 = 0 ORDER BY pgphase_rn";

void bf_sql_release(struct bf_sql *q)
{
	for (int i = 0; i < 4; i++)
		free(q->batch[i]);
	free(q->sweep[0]);
	free(q->sweep[1]);
	free(q->sample);
	memset(q, 0, sizeof(*q));
}

struct lists {
	struct sbuf qualified, names, tnames, tdesc, json, typed_k, typed_s;
};

static void lists_build(struct lists *l, struct bf_job *j, struct pgphase_session *s)
{
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < j->key.n; i++) {
		char *c = db_ident(s, j->key.cols[i]);
		const char *sep = i ? ", " : "";

		sbuf_addf(&l->qualified, "%s%s.%s", sep, j->qual, c);
		sbuf_addf(&l->names, "%s%s", sep, c);
		sbuf_addf(&l->tnames, "%st.%s", sep, c);
		sbuf_addf(&l->tdesc, "%st.%s DESC", sep, c);
		sbuf_addf(&l->json, "%st.%s::text", sep, c);
		/* stored keys are text: back to values with the column's own type */
		sbuf_addf(&l->typed_k, "%s(k.key ->> %d)::%s", sep, i, j->key.types[i]);
		sbuf_addf(&l->typed_s, "%s(s.key ->> %d)::%s", sep, i, j->key.types[i]);
		free(c);
	}
}

static void lists_release(struct lists *l)
{
	sbuf_release(&l->qualified);
	sbuf_release(&l->names);
	sbuf_release(&l->tnames);
	sbuf_release(&l->tdesc);
	sbuf_release(&l->json);
	sbuf_release(&l->typed_k);
	sbuf_release(&l->typed_s);
}

/* "(k1, k2) > ($7, $8) AND " for the cursor, "<=" for the upper bound. */
static void bound(struct sbuf *sb, const struct lists *l, int n, const char *op, int first)
{
	sbuf_addf(sb, "(%s) %s (", l->qualified.buf, op);
	for (int i = 0; i < n; i++)
		sbuf_addf(sb, "%s$%d", i ? ", " : "", first + i);
	sbuf_adds(sb, ") AND ");
}

/* Render a template after @S@ substitution. */
static char *render(struct bf_job *j, struct pgphase_session *s, char *text,
		    struct pgphase_error *err)
{
	char *tmpl = state_sql(s, text);
	char *out = bf_render(tmpl, j->spec->stmt, err);

	free(tmpl);
	free(text);
	return out;
}

int bf_build_sql(struct bf_job *j, struct pgphase_session *s, struct pgphase_error *err)
{
	bool has_where = bf_where(j->spec->stmt) != NULL;
	const char *pred = has_where ? "pgphase_pred" : "true";
	const char *scan_pred = has_where && !j->joined ? "pgphase_pred" : "true";
	char *change = xasprintf(j->update ? SQL_CHANGE_UPDATE : SQL_CHANGE_DELETE, j->qual, pred);
	struct lists l;
	char *json;
	int rc = -1;

	lists_build(&l, j, s);
	json = xasprintf("jsonb_build_array(%s)", l.json.buf);
	for (int v = 0; v < 4; v++) {
		struct sbuf b = SBUF_INIT;
		int next = 7;

		if (v & 1) {
			bound(&b, &l, j->key.n, ">", next);
			next += j->key.n;
		}
		if (v & 2)
			bound(&b, &l, j->key.n, "<=", next);
		sbuf_adds(&b, "");
		j->sql.batch[v] = render(j, s, xasprintf(SQL_WALK_BATCH, l.qualified.buf, b.buf,
							 scan_pred, j->qual, json, l.tdesc.buf, change),
					 err);
		sbuf_release(&b);
		if (!j->sql.batch[v])
			goto cleanup;
	}
	for (int v = 0; v < 2; v++) {
		j->sql.sweep[v] = render(j, s, xasprintf(SQL_SWEEP_BATCH, l.qualified.buf,
							 l.typed_k.buf, scan_pred, j->qual,
							 v ? "" : "SKIP LOCKED", change,
							 l.typed_s.buf, l.names.buf), err);
		if (!j->sql.sweep[v])
			goto cleanup;
	}
	j->sql.sample = render(j, s, xasprintf(SQL_SAMPLE, l.qualified.buf, scan_pred,
					       l.names.buf, json), err);
	if (j->sql.sample)
		rc = 0;
cleanup:
	free(json);
	free(change);
	lists_release(&l);
	return rc;
}
