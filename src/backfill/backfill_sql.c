/*
 * The statements a backfill runs, rendered once per run from templates (backfill_check.c
 * grafts the user's table, SET list, FROM/USING list and WHERE clause in).  This is the only
 * generator of batch SQL: the engine runs what it renders, and `pgphase plan` prints what it
 * renders (pgphase_backfill_render) from the key the planner resolved.  It needs no
 * database: key columns are always quoted and every statement is deparsed (which normalises
 * quoting); key types come from format_type() (or, offline, from CREATE TABLE).
 *
 * Every walk batch runs in the transaction that claimed its chunk row.  It first tries the
 * optimistic path (SQL_WALK_FAST, below); when a row lock is in the way it is redone, in a
 * new transaction, as one statement that takes row locks and skips locked rows:
 *
 *   pgphase_todo     the next $5 rows after the cursor (up to the chunk's upper bound) that
 *                    match the predicate, in key order: an index range scan from the cursor
 *   pgphase_locked   those rows locked FOR UPDATE SKIP LOCKED, fetched by ctid (TID scan);
 *                    an INSERT ... SELECT locks its source rows FOR KEY SHARE instead
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

#include "backfill/backfill.h"
#include "state/state.h"
#include "base/util.h"

/*
 * Walk batch taking row locks = SQL_WALK_HEAD + SQL_WALK_LOCKED + SQL_WALK_TAIL.
 * %1$s key columns qualified, %2$s cursor/upper conditions, %3$s predicate for the scans
 * (placeholder or true), %4$s qualifier, %5$s key as a jsonb array of text from t, %6$s key
 * columns of t descending, %7$s the change, %8$s the row lock (UPDATE; KEY SHARE for the
 * source rows of an INSERT ... SELECT).
 * $1 module, $2 version, $3 step, $4 chunk, $5 batch size, $6 claimed_by, then the bounds.
 */
static const char *const SQL_WALK_HEAD =
	"WITH pgphase_todo AS MATERIALIZED ("
	"   SELECT %1$s, %4$s.ctid AS pgphase_tid FROM pgphase_rel"
	"    WHERE %2$s %3$s ORDER BY %1$s LIMIT $5),";

/* Lock first (SKIP LOCKED), change the locked rows, remember the others by ctid. */
static const char *const SQL_WALK_LOCKED =
	" pgphase_locked AS MATERIALIZED ("
	"   SELECT %4$s.ctid AS pgphase_tid FROM pgphase_rel"
	"    WHERE %4$s.ctid = ANY (ARRAY(SELECT pgphase_tid FROM pgphase_todo)) AND %3$s"
	"      FOR %8$s SKIP LOCKED),"
	" pgphase_done AS (%7$s), %9$s"
	" pgphase_n AS MATERIALIZED (SELECT (SELECT count(*) FROM pgphase_todo) AS todo,"
	"   (SELECT count(*) FROM pgphase_done) AS done,"
	"   (SELECT count(*) FROM pgphase_locked) AS locked),"
	" pgphase_skipped AS ("
	"   INSERT INTO @S@.backfill_skipped (module, version, step, chunk, key)"
	"   SELECT $1, $2, $3, $4, %5$s FROM pgphase_todo t"
	"    WHERE (SELECT locked < todo FROM pgphase_n)"
	"      AND t.pgphase_tid NOT IN (SELECT pgphase_tid FROM pgphase_locked)"
	"   ON CONFLICT DO NOTHING RETURNING 1),";

/*
 * The optimistic path: one statement, in a batch transaction whose lock_timeout is 50 ms.
 * pgphase_batch reads the next $5 keys after the cursor that match the predicate (an index
 * range scan, no row locks); pgphase_hi is the last of them; the change then covers the key
 * range (cursor, hi] directly, without taking row locks first (a row lock costs a WAL record
 * per row).  A row the application holds makes it fail within 50 ms and the batch is redone
 * with SQL_WALK_LOCKED.  Nothing is skipped on this path: a row changed by someone else
 * meanwhile is re-checked against range and predicate by the change itself, which is why
 * it goes by key range and not by ctid (a re-checked row has a new ctid).  Within one
 * statement's snapshot, (cursor, hi] holds every visible matching row up to the chunk's
 * upper bound when fewer than $5 were found, so that case ends the chunk.
 *
 * Two forms.  Given a claimed chunk (SQL_WALK_HEAD's parameters): %7$s is "", the bounds
 * are parameters, %8$s is $4.  Claiming its own chunk, for one round trip (backfill_batch.c
 * sends it between BEGIN and COMMIT in one pipeline): %7$s is SQL_CLAIM_CTE, the bounds
 * come from the claimed row cast back to the key's types, %8$s is that row's chunk; only
 * chunks with both bounds are claimed so (the first and last go the two-statement way),
 * and with none free nothing is read or changed and the chunk column is NULL.
 * %1$s key columns qualified, %2$s bounds ("... AND "), %3$s scan predicate, %4$s key columns
 * of t descending, %5$s the change over the range, %6$s key of t as a jsonb array of text.
 * Result: rows changed, rows found, chunk, progress rows.
 */
static const char *const SQL_WALK_FAST =
	"WITH %7$s pgphase_batch AS MATERIALIZED ("
	"   SELECT %1$s FROM pgphase_rel WHERE %2$s %3$s ORDER BY %1$s LIMIT $5),"
	" pgphase_hi AS MATERIALIZED (SELECT * FROM pgphase_batch t ORDER BY %4$s LIMIT 1),"
	" pgphase_done AS (%5$s),"
	" pgphase_progress AS ("
	"   UPDATE @S@.backfill_progress SET cursor = coalesce((SELECT %6$s FROM pgphase_hi t), cursor),"
	"     rows_done = rows_done + (SELECT count(*) FROM pgphase_done),"
	"     batches = batches + 1, done = (SELECT count(*) FROM pgphase_batch) < $5,"
	"     claimed_by = $6, updated_at = now()"
	"    WHERE module = $1 AND version = $2 AND step = $3 AND chunk = %8$s RETURNING 1)"
	" SELECT (SELECT count(*) FROM pgphase_done), (SELECT count(*) FROM pgphase_batch),"
	"        %8$s, (SELECT count(*) FROM pgphase_progress)";

/*
 * SQL_WALK_FAST's own claim, ordered as backfill_batch.c's SQL_CLAIM.
 * $1 module, $2 version, $3 step, $4 current chunk, $5 batch size, $6 claimed_by, $7 stale ms.
 */
static const char *const SQL_CLAIM_CTE =
	"pgphase_claim AS MATERIALIZED ("
	"   SELECT chunk, cursor, upper_bound FROM @S@.backfill_progress"
	"    WHERE module = $1 AND version = $2 AND step = $3 AND chunk >= 0 AND NOT done"
	"      AND cursor IS NOT NULL AND upper_bound IS NOT NULL"
	"    ORDER BY chunk = $4::bigint DESC,"
	"          (claimed_by IS NOT NULL AND claimed_by <> $6"
	"           AND updated_at > now() - make_interval(secs => $7::float8 / 1000)),"
	"          chunk"
	"    LIMIT 1 FOR UPDATE SKIP LOCKED),";
static const char *const SQL_CLAIMED_CHUNK = "(SELECT chunk FROM pgphase_claim)";

/* The change over a key range: %1$s bounds ("... AND "), %2$s predicate, %3$s qualifier. */
static const char *const SQL_RANGE_UPDATE =
	"UPDATE pgphase_rel SET pgphase_set = NULL WHERE %1$s %2$s RETURNING 1";
static const char *const SQL_RANGE_DELETE =
	"DELETE FROM pgphase_rel WHERE %1$s %2$s RETURNING 1";
/*
 * INSERT ... SELECT reads its source rows FOR KEY SHARE: the weakest row lock, which the
 * application's ordinary UPDATEs of the source do not conflict with, but a DELETE (or a key
 * change) does.  Without it a row the application deletes while the batch copies it could be
 * copied from the version the batch's snapshot still sees, after the application's delete
 * (and a sync trigger's delete of the copy) ran: the copy would outlive its source.  A row
 * the application holds is waited for at most 50 ms on the optimistic path, then skipped
 * and swept like any other locked row.
 */
static const char *const SQL_RANGE_INSERT =
	"INSERT INTO pgphase_ins SELECT pgphase_tl FROM pgphase_rel WHERE %1$s %2$s"
	" FOR KEY SHARE OF %3$s RETURNING 1";

static const char *const SQL_WALK_TAIL =
	" pgphase_last AS (SELECT %5$s AS k"
	"   FROM (SELECT * FROM pgphase_todo t ORDER BY %6$s LIMIT 1) t),"
	" pgphase_progress AS ("
	"   UPDATE @S@.backfill_progress SET cursor = coalesce((SELECT k FROM pgphase_last), cursor),"
	"     rows_done = rows_done + (SELECT done FROM pgphase_n),"
	"     rows_skipped = rows_skipped + (SELECT count(*) FROM pgphase_skipped),"
	"     batches = batches + 1, done = (SELECT todo FROM pgphase_n) < $5,"
	"     claimed_by = $6, updated_at = now()"
	"    WHERE module = $1 AND version = $2 AND step = $3 AND chunk = $4 RETURNING 1)"
	" SELECT n.done, n.todo, (SELECT count(*) FROM pgphase_skipped),"
	"        (SELECT count(*) FROM pgphase_progress) FROM pgphase_n n";

/*
 * The change, by ctid: %1$s qualifier, %2$s predicate, %3$s the CTE holding the rows
 * (pgphase_locked, or pgphase_todo on the optimistic path), %4$s key columns qualified.
 */
static const char *const SQL_CHANGE_UPDATE =
	"UPDATE pgphase_rel SET pgphase_set = NULL"
	" WHERE %1$s.ctid = ANY (ARRAY(SELECT pgphase_tid FROM %3$s)) AND %2$s RETURNING %4$s";
static const char *const SQL_CHANGE_DELETE =
	"DELETE FROM pgphase_rel"
	" WHERE %1$s.ctid = ANY (ARRAY(SELECT pgphase_tid FROM %3$s)) AND %2$s RETURNING %4$s";
/* The source rows are locked already (pgphase_locked); RETURNING counts inserted rows. */
static const char *const SQL_CHANGE_INSERT =
	"INSERT INTO pgphase_ins SELECT pgphase_tl FROM pgphase_rel"
	" WHERE %1$s.ctid = ANY (ARRAY(SELECT pgphase_tid FROM %3$s)) AND %2$s RETURNING 1";

/*
 * Sweep batch.  %1$s key columns qualified, %2$s stored keys as typed values (from k),
 * %3$s scan predicate, %4$s qualifier, %5$s the row lock, "... SKIP LOCKED" or not, %6$s the change,
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
	"      FOR %5$s),"
	" pgphase_done AS (%6$s), %9$s"
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
 * The old values of a data change that rollback restores (spec->keep_old, UPDATE and DELETE
 * only): in the statement of SQL_WALK_LOCKED or SQL_SWEEP_BATCH, as its %9$s.  Every CTE of a
 * statement reads the same snapshot, so this reads the rows as they were before pgphase_done
 * changed them; the rows pgphase_done changed are those it returns, among the rows locked
 * (which are unchanged since the snapshot: a row changed meanwhile fails the ctid recheck).
 * key: the key columns as a JSON object of their text; old: an UPDATE's the columns it sets,
 * likewise (other columns may come and go before rollback), a DELETE's the whole row as its
 * record text in a JSON string (rollback casts it back to the table's row type).  Text is
 * exact for every type.  ON CONFLICT DO
 * NOTHING keeps the first old value of a row.  Such a job never takes the optimistic path,
 * which changes rows without locking them first (backfill_batch.c).
 * %1$s key columns qualified, %2$s "qual.k::text AS k" list, %3$s key names, %4$s qualifier,
 * %5$s the old value.
 */
static const char *const SQL_SAVE_OLD =
	" pgphase_saved AS ("
	"   INSERT INTO @S@.undo_rows (module, version, step, key, old)"
	"   SELECT $1, $2, $3, (SELECT to_jsonb(pgphase_k) FROM (SELECT %2$s) pgphase_k),"
	"          %5$s FROM pgphase_rel"
	"    WHERE %4$s.ctid = ANY (ARRAY(SELECT pgphase_tid FROM pgphase_locked))"
	"      AND (%1$s) IN (SELECT %3$s FROM pgphase_done)"
	"   ON CONFLICT DO NOTHING RETURNING 1),";

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

bool bf_keeps_old(const struct bf_job *j)
{
	return j->spec->keep_old && !j->insert;
}

void bf_sql_release(struct bf_sql *q)
{
	for (int i = 0; i < 4; i++) {
		free(q->batch[i]);
		free(q->fast[i]);
	}
	free(q->claimed);
	free(q->sweep[0]);
	free(q->sweep[1]);
	free(q->sample);
	memset(q, 0, sizeof(*q));
}

struct lists {
	struct sbuf qualified, names, tnames, tdesc, json, hi, typed_k, typed_s, typed_lo, typed_up;
	struct sbuf as_text;
};

static void lists_build(struct lists *l, struct bf_job *j)
{
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < j->key.n; i++) {
		char *c = quote_ident_always(j->key.cols[i]);
		const char *sep = i ? ", " : "";

		sbuf_addf(&l->qualified, "%s%s.%s", sep, j->qual, c);
		sbuf_addf(&l->names, "%s%s", sep, c);
		sbuf_addf(&l->tnames, "%st.%s", sep, c);
		sbuf_addf(&l->tdesc, "%st.%s DESC", sep, c);
		sbuf_addf(&l->json, "%st.%s::text", sep, c);
		sbuf_addf(&l->as_text, "%s%s.%s::text AS %s", sep, j->qual, c, c);
		sbuf_addf(&l->hi, "%s(SELECT t.%s FROM pgphase_hi t)", sep, c);
		/* stored keys are text: back to values with the column's own type */
		sbuf_addf(&l->typed_k, "%s(k.key ->> %d)::%s", sep, i, j->key.types[i]);
		sbuf_addf(&l->typed_s, "%s(s.key ->> %d)::%s", sep, i, j->key.types[i]);
		sbuf_addf(&l->typed_lo, "%s(SELECT (c.cursor ->> %d)::%s FROM pgphase_claim c)", sep,
			  i, j->key.types[i]);
		sbuf_addf(&l->typed_up, "%s(SELECT (c.upper_bound ->> %d)::%s FROM pgphase_claim c)",
			  sep, i, j->key.types[i]);
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
	sbuf_release(&l->hi);
	sbuf_release(&l->typed_k);
	sbuf_release(&l->typed_s);
	sbuf_release(&l->typed_lo);
	sbuf_release(&l->typed_up);
	sbuf_release(&l->as_text);
}

/* "(k1, k2) > ($7, $8) AND " for the cursor, "<=" for the upper bound. */
static void bound(struct sbuf *sb, const struct lists *l, int n, const char *op, int first)
{
	sbuf_addf(sb, "(%s) %s (", l->qualified.buf, op);
	for (int i = 0; i < n; i++)
		sbuf_addf(sb, "%s$%d", i ? ", " : "", first + i);
	sbuf_adds(sb, ") AND ");
}

/* The old values to keep: the columns an UPDATE sets (as text, by name), a DELETE's row. */
static char *save_old_sql(struct bf_job *j, const struct lists *l)
{
	const PgQuery__Node *st = j->spec->stmt;
	struct sbuf cols = SBUF_INIT;
	char *old, *out;

	for (size_t i = 0; j->update && i < st->update_stmt->n_target_list; i++) {
		const PgQuery__ResTarget *t = st->update_stmt->target_list[i]->res_target;
		char *c = t && t->name ? quote_ident_always(t->name) : NULL;
		bool seen = false;

		for (size_t k = 0; c && k < i; k++) {
			const PgQuery__ResTarget *e = st->update_stmt->target_list[k]->res_target;

			seen = seen || (e && e->name && strcmp(e->name, t->name) == 0);
		}
		if (c && !seen)
			sbuf_addf(&cols, "%s%s.%s::text AS %s", cols.len ? ", " : "", j->qual, c,
				  c);
		free(c);
	}
	old = j->update ? xasprintf("(SELECT to_jsonb(pgphase_o) FROM (SELECT %s) pgphase_o)",
				    cols.buf) : xasprintf("to_jsonb(ROW(%s.*)::text)", j->qual);
	out = xasprintf(SQL_SAVE_OLD, l->qualified.buf, l->as_text.buf, l->names.buf, j->qual, old);
	free(old);
	sbuf_release(&cols);
	return out;
}

/* Render a template after @S@ substitution (s carries only the quoted state schema). */
static char *render(struct bf_job *j, struct pgphase_session *s, char *text,
		    struct pgphase_error *err)
{
	char *tmpl = state_sql(s, text);
	char *out = bf_render(tmpl, j->spec->stmt, err);

	free(tmpl);
	free(text);
	return out;
}

/* Cursor (bit 0 of v) and upper bound (bit 1) conditions, parameters from $first on. */
static void bounds(struct sbuf *b, const struct lists *l, int nkey, int v, int first)
{
	if (v & 1) {
		bound(b, l, nkey, ">", first);
		first += nkey;
	}
	if (v & 2)
		bound(b, l, nkey, "<=", first);
	sbuf_adds(b, "");
}

/*
 * SQL_WALK_FAST over (lower, hi]: lower is "(key) > (...) AND " or "", bounds those of the
 * batch scan, claim and chunk as SQL_WALK_FAST's %7$s and %8$s.
 */
static char *walk_fast_sql(struct bf_job *j, struct pgphase_session *s, const struct lists *l,
			   const char *lower, const char *bounds, const char *claim,
			   const char *chunk, const char *pred, const char *scan_pred,
			   const char *json, struct pgphase_error *err)
{
	char *range = xasprintf("%s(%s) <= (%s) AND ", lower, l->qualified.buf, l->hi.buf);
	char *change = xasprintf(j->update ? SQL_RANGE_UPDATE : j->insert ? SQL_RANGE_INSERT
				 : SQL_RANGE_DELETE, range, pred, j->qual);
	char *out = render(j, s, xasprintf(SQL_WALK_FAST, l->qualified.buf, bounds, scan_pred,
					   l->tdesc.buf, change, json, claim, chunk), err);

	free(change);
	free(range);
	return out;
}

/* The two statements of walk variant v: taking row locks, and the optimistic path. */
static int walk_sql(struct bf_job *j, struct pgphase_session *s, const struct lists *l, int v,
		    const char *pred, const char *scan_pred, const char *change,
		    const char *json, const char *save, struct pgphase_error *err)
{
	struct sbuf b = SBUF_INIT, t = SBUF_INIT;

	bounds(&b, l, j->key.n, v, 7);
	sbuf_adds(&t, SQL_WALK_HEAD);
	sbuf_adds(&t, SQL_WALK_LOCKED);
	sbuf_adds(&t, SQL_WALK_TAIL);
	j->sql.batch[v] = render(j, s, xasprintf(t.buf, l->qualified.buf, b.buf, scan_pred,
						 j->qual, json, l->tdesc.buf, change,
						 j->insert ? "KEY SHARE" : "UPDATE", save), err);
	/* the change over (cursor, hi]: the chunk's upper bound is implied by hi */
	sbuf_release(&t);
	bounds(&t, l, j->key.n, v & 1, 7);
	j->sql.fast[v] = j->sql.batch[v] ? walk_fast_sql(j, s, l, t.buf, b.buf, "", "$4::bigint",
							 pred, scan_pred, json, err) : NULL;
	sbuf_release(&b);
	sbuf_release(&t);
	return j->sql.fast[v] ? 0 : -1;
}

/* SQL_WALK_FAST claiming its own chunk, bounds from the claimed row. */
static int walk_claimed_sql(struct bf_job *j, struct pgphase_session *s, const struct lists *l,
			    const char *pred, const char *scan_pred, const char *json,
			    struct pgphase_error *err)
{
	char *lower = xasprintf("(%s) > (%s) AND ", l->qualified.buf, l->typed_lo.buf);
	char *both = xasprintf("%s(%s) <= (%s) AND ", lower, l->qualified.buf, l->typed_up.buf);

	j->sql.claimed = walk_fast_sql(j, s, l, lower, both, SQL_CLAIM_CTE, SQL_CLAIMED_CHUNK,
				       pred, scan_pred, json, err);
	free(both);
	free(lower);
	return j->sql.claimed ? 0 : -1;
}

int bf_build_sql(struct bf_job *j, const char *schema_q, struct pgphase_error *err)
{
	struct pgphase_session schema = { .schema_q = (char *)schema_q }, *s = &schema;
	bool has_where = bf_where(j->spec->stmt) != NULL;
	const char *pred = has_where ? "pgphase_pred" : "true";
	const char *scan_pred = has_where && !j->joined ? "pgphase_pred" : "true";
	const char *tmpl = j->update ? SQL_CHANGE_UPDATE : j->insert ? SQL_CHANGE_INSERT
			   : SQL_CHANGE_DELETE;
	const char *lock[2] = { j->insert ? "KEY SHARE SKIP LOCKED" : "UPDATE SKIP LOCKED",
				j->insert ? "KEY SHARE" : "UPDATE" };
	char *change, *save;
	struct lists l;
	char *json;
	int rc = -1;

	lists_build(&l, j);
	save = bf_keeps_old(j) ? save_old_sql(j, &l) : xstrdup("");
	change = xasprintf(tmpl, j->qual, pred, "pgphase_locked", l.qualified.buf);
	json = xasprintf("jsonb_build_array(%s)", l.json.buf);
	for (int v = 0; v < 4; v++)
		if (walk_sql(j, s, &l, v, pred, scan_pred, change, json, save, err) < 0)
			goto cleanup;
	if (walk_claimed_sql(j, s, &l, pred, scan_pred, json, err) < 0)
		goto cleanup;
	for (int v = 0; v < 2; v++) {
		j->sql.sweep[v] = render(j, s, xasprintf(SQL_SWEEP_BATCH, l.qualified.buf,
							 l.typed_k.buf, scan_pred, j->qual,
							 lock[v], change,
							 l.typed_s.buf, l.names.buf, save), err);
		if (!j->sql.sweep[v])
			goto cleanup;
	}
	j->sql.sample = render(j, s, xasprintf(SQL_SAMPLE, l.qualified.buf, scan_pred,
					       l.names.buf, json), err);
	if (j->sql.sample)
		rc = 0;
cleanup:
	free(save);
	free(json);
	free(change);
	lists_release(&l);
	return rc;
}

int pgphase_backfill_render(const struct pgphase_backfill_spec *spec,
			    const struct pgphase_backfill_key *key, const char *state_schema,
			    char **batch, char **open, struct pgphase_error *err)
{
	char *schema_q = quote_ident_always(state_schema);
	struct bf_job j;
	int rc = -1;

	*batch = *open = NULL;
	memset(&j, 0, sizeof(j));
	j.spec = spec;
	if (bf_describe(&j, err) == 0) {
		for (int i = 0; i < key->n; i++)
			pgphase_backfill_key_add(&j.key, key->cols[i], key->types[i]);
		rc = bf_build_sql(&j, schema_q, err);
	}
	if (rc == 0 && bf_keeps_old(&j)) {
		/* old values kept: every batch locks its rows first (a chunk with both bounds, and
		   the last chunk's form) */
		*batch = j.sql.batch[3];
		*open = j.sql.batch[1];
		j.sql.batch[3] = j.sql.batch[1] = NULL;
	} else if (rc == 0) {
		*batch = j.sql.claimed;
		*open = j.sql.fast[3];
		j.sql.claimed = j.sql.fast[3] = NULL;
	}
	bf_sql_release(&j.sql);
	bf_job_names_release(&j);
	free(schema_q);
	return rc;
}
