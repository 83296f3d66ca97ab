/*
 * Rollback of a backfill data change: the old values of the rows an UPDATE or DELETE of the
 * backfill engine changed (data-change-to-backfill) are put back from <state>.undo_rows,
 * where each batch recorded them in its own transaction (src/backfill/backfill_sql.c).  An
 * UPDATE's rows get the columns it set back; a DELETE's rows are inserted again (generated
 * columns are computed again, identity values kept; a row the application inserted since with
 * the same unique key stays, ON CONFLICT DO NOTHING).  Values written since by the
 * application to those columns of those rows are overwritten, as a DOWN UPDATE would.
 *
 * Values are kept as text, exact for every type: an UPDATE's set columns by name (cast to
 * each column's type as it is now), a DELETE's row as its record text, cast back to the
 * table's row type (checked before anything changes: the table must have the columns it had
 * when the backfill ran).
 * The rows go back in key-ordered batches, each one transaction that also deletes the undo
 * rows it restored, so an interrupted rollback repeats nothing when run again; lock timeouts
 * are retried with backoff within lock_retry_budget.  The table still has the columns of the
 * expanded schema: this runs before the undo of any expand step (run_rollback.c).
 *
 * Not here: deciding which steps to restore (run_undo.c), deleting the marker and the
 * migration's rows (state_delete).
 */
#include <stdlib.h>
#include <string.h>

#include "base/db.h"
#include "base/util.h"
#include "exec/exec.h"
#include "pgphase/log.h"
#include "run/run.h"
#include "sql/tree.h"
#include "state/state.h"

#define RESTORE_BATCH "1000"

/* $1 quoted state table name */
static const char *const SQL_HAS_TABLE = "SELECT to_regclass($1) IS NOT NULL";

/* $1 module, $2 version, $3 step: did the backfill start, did it record from its start? */
static const char *const SQL_MARKED =
	"SELECT EXISTS (SELECT FROM @S@.backfill_progress"
	"                WHERE module = $1 AND version = $2::bigint AND step = $3::int),"
	"       EXISTS (SELECT FROM @S@.undo_rows"
	"                WHERE module = $1 AND version = $2::bigint AND step = $3::int"
	"                  AND key = '[]')";

static const char *const SQL_PROGRESS =
	"SELECT EXISTS (SELECT FROM @S@.backfill_progress"
	"                WHERE module = $1 AND version = $2::bigint AND step = $3::int)";

/* Key column names, from one recorded row.  $1 module, $2 version, $3 step. */
static const char *const SQL_KEY_NAMES =
	"SELECT k FROM (SELECT key FROM @S@.undo_rows"
	"   WHERE module = $1 AND version = $2::bigint AND step = $3::int"
	"     AND jsonb_typeof(key) = 'object' LIMIT 1) u, jsonb_object_keys(u.key) k";

/* Columns: name, type, generated.  $1 the table. */
static const char *const SQL_COLUMNS =
	"SELECT attname, format_type(atttypid, atttypmod), attgenerated <> ''"
	"  FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0"
	"   AND NOT attisdropped ORDER BY attnum";

/*
 * One batch.  %1$s the old value as r (an UPDATE's JSON object of column texts, a DELETE's
 * row cast back from its record text), %2$s the change that puts pgphase_b's rows back.
 * $1 module, $2 version, $3 step.  Result: undo rows done, rows restored.
 */
static const char *const SQL_RESTORE =
	"WITH pgphase_b AS MATERIALIZED ("
	"   SELECT u.key, %1$s AS r FROM @S@.undo_rows u"
	"    WHERE u.module = $1 AND u.version = $2::bigint AND u.step = $3::int"
	"      AND jsonb_typeof(u.key) = 'object' ORDER BY u.key LIMIT " RESTORE_BATCH "),"
	" pgphase_r AS (%2$s RETURNING 1),"
	" pgphase_f AS ("
	"   DELETE FROM @S@.undo_rows u USING pgphase_b b"
	"    WHERE u.module = $1 AND u.version = $2::bigint AND u.step = $3::int"
	"      AND u.key = b.key RETURNING 1)"
	" SELECT (SELECT count(*) FROM pgphase_f), (SELECT count(*) FROM pgphase_r)";

struct target {
	char *rel;      /* "schema"."table" */
	bool update;
	char **set;     /* UPDATE: the columns it sets, distinct */
	size_t n_set;
};

static void target_release(struct target *t)
{
	for (size_t i = 0; i < t->n_set; i++)
		free(t->set[i]);
	free(t->set);
	free(t->rel);
}

static int target_load(const struct pgphase_step *st, struct target *t, struct pgphase_error *err)
{
	struct pgphase_sql sql;
	const PgQuery__Node *n;
	const PgQuery__RangeVar *rv;
	char *q;

	memset(t, 0, sizeof(*t));
	if (pgphase_sql_parse(&sql, st->dml, st->file, err) < 0)
		return -1;
	n = sql.stmts[0].node;
	rv = pgphase_backfill_source(n);
	q = quote_ident_always(rv->relname);
	if (rv->schemaname && rv->schemaname[0]) {
		char *sq = quote_ident_always(rv->schemaname);

		t->rel = xasprintf("%s.%s", sq, q);
		free(sq);
		free(q);
	} else {
		t->rel = q;
	}
	t->update = n->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT;
	for (size_t i = 0; t->update && i < n->update_stmt->n_target_list; i++) {
		const PgQuery__ResTarget *rt = n->update_stmt->target_list[i]->res_target;
		bool seen = false;

		for (size_t k = 0; rt && k < t->n_set; k++)
			seen = seen || strcmp(t->set[k], rt->name) == 0;
		if (!rt || seen)
			continue;
		t->set = xrealloc(t->set, (t->n_set + 1) * sizeof(*t->set));
		t->set[t->n_set++] = xstrdup(rt->name);
	}
	pgphase_sql_release(&sql);
	return 0;
}

static PGresult *sq(struct pgphase_session *s, const char *tmpl, int n, const char *const *p,
		    struct pgphase_error *err)
{
	char *sql = state_sql(s, tmpl);
	PGresult *r = db_query(s, sql, n, p, PGRES_TUPLES_OK, err);

	free(sql);
	return r;
}

/* Parameters $1 module, $2 version, $3 step into p (texts in buffers v and i). */
static void params3(struct pgphase_session *s, const struct pgphase_migration *m,
		    const struct run_undo_item *it, const char **p, char *v, char *i)
{
	snprintf(v, 24, "%lld", (long long)m->version);
	snprintf(i, 16, "%d", it->index);
	p[0] = s->cfg->module;
	p[1] = v;
	p[2] = i;
}

static char *restore_sql(struct pgphase_session *s, const struct pgphase_migration *m,
			 const struct run_undo_item *it, struct pgphase_error *err);

/* $1 module, $2 version, $3 step; %s the table: one recorded row cast back. */
static const char *const SQL_CAST_ONE =
	"SELECT (old #>> '{}')::%s FROM @S@.undo_rows"
	" WHERE module = $1 AND version = $2::bigint AND step = $3::int"
	"   AND jsonb_typeof(key) = 'object' LIMIT 1";

/* A DELETE's rows cast back to the table's row type: exit 2 when its columns changed. */
static int shape_check(struct pgphase_session *s, const struct pgphase_migration *m,
		       const struct run_undo_item *it, const char *const *p,
		       struct pgphase_error *err)
{
	struct target t;
	char *tmpl;
	PGresult *r;

	if (target_load(it->step, &t, err) < 0)
		return -1;
	if (t.update) {
		target_release(&t);
		return 0;
	}
	tmpl = xasprintf(SQL_CAST_ONE, t.rel);
	r = sq(s, tmpl, 3, p, err);
	free(tmpl);
	PQclear(r);
	if (!r) {
		pgphase_error_release(err);
		pgphase_error_init(err);
		pgphase_error_at(err, PGPHASE_EXIT_USAGE, "cannot-undo", it->step->file,
				 it->step->line, it->step->column, "cannot roll back %s: the rows "
				 "its backfill deleted from %s do not fit the table's columns any "
				 "more (changed since the backfill)", m->file, t.rel);
		pgphase_error_hint(err, "nothing was rolled back");
	}
	target_release(&t);
	return r ? 0 : -1;
}

int run_restore_check(struct pgphase_session *s, const struct pgphase_migration *m,
		      const struct run_undo_item *it, struct pgphase_error *err)
{
	char v[24], i[16], *table = xasprintf("%s.undo_rows", s->schema_q);
	const char *p[3], *tp[1] = { table };
	PGresult *r = db_query(s, SQL_HAS_TABLE, 1, tp, PGRES_TUPLES_OK, err);
	bool has, started, marked = false;

	free(table);
	if (!r)
		return -1;
	has = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	params3(s, m, it, p, v, i);
	r = sq(s, has ? SQL_MARKED : SQL_PROGRESS, 3, p, err);
	if (!r)
		return -1;
	started = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	if (has)
		marked = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	if (started && marked) {
		char *sql;

		if (shape_check(s, m, it, p, err) < 0)
			return -1;
		/* the columns it restores and its key are still there */
		sql = restore_sql(s, m, it, err);
		free(sql);
		return sql ? 0 : -1;
	}
	if (!started)
		return 0;
	pgphase_error_at(err, PGPHASE_EXIT_USAGE, "cannot-undo", it->step->file, it->step->line,
			 it->step->column, "cannot roll back %s: its backfill ran without "
			 "recording the old values of the rows it changed (an earlier pgphase)",
			 m->file);
	pgphase_error_detail(err, "step (backfill): %s", it->step->dml);
	pgphase_error_hint(err, "nothing was rolled back; finish it (pgphase migrate --to %s), "
				"then pgphase rollback runs the DOWN section",
			   m->version_text ? m->version_text : "V");
	return -1;
}

/* The type of column name of the table's columns r, or NULL. */
static const char *type_of(PGresult *r, const char *name)
{
	for (int k = 0; k < PQntuples(r); k++)
		if (strcmp(PQgetvalue(r, k, 0), name) == 0)
			return PQgetvalue(r, k, 1);
	return NULL;
}

/*
 * An UPDATE's rows: "UPDATE t SET c = o.c::type ... FROM pgphase_b b, the texts of old and
 * key as records WHERE key matches"; column names as recorded, types as they are now.
 */
static int update_sql(struct pgphase_session *s, const struct target *t, PGresult *cols,
		      const char *const *p, struct sbuf *change, struct pgphase_error *err)
{
	struct sbuf keys = SBUF_INIT, vals = SBUF_INIT, kdef = SBUF_INIT, odef = SBUF_INIT;
	PGresult *r = sq(s, SQL_KEY_NAMES, 3, p, err);
	int rc = -1;

	if (!r)
		return -1;
	for (int k = 0; k < PQntuples(r); k++) {
		const char *name = PQgetvalue(r, k, 0), *type = type_of(cols, name);
		char *c = quote_ident_always(name);

		if (type) {
			sbuf_addf(&keys, "%spgphase_t.%s", k ? ", " : "", c);
			sbuf_addf(&vals, "%sk.%s::%s", k ? ", " : "", c, type);
			sbuf_addf(&kdef, "%s%s text", k ? ", " : "", c);
		}
		free(c);
		if (!type) {
			pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot restore the old values "
					  "of %s: its key column \"%s\" is gone", t->rel, name);
			goto out;
		}
	}
	sbuf_addf(change, "UPDATE %s AS pgphase_t SET ", t->rel);
	for (size_t k = 0; k < t->n_set; k++) {
		const char *type = type_of(cols, t->set[k]);
		char *c = quote_ident_always(t->set[k]);

		if (type) {
			sbuf_addf(change, "%s%s = o.%s::%s", k ? ", " : "", c, c, type);
			sbuf_addf(&odef, "%s%s text", k ? ", " : "", c);
		}
		free(c);
		if (!type) {
			pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot restore the old values "
					  "of %s: its column \"%s\" is gone", t->rel, t->set[k]);
			goto out;
		}
	}
	if (keys.len == 0) { /* nothing recorded: nothing to restore */
		sbuf_adds(change, " FROM pgphase_b b WHERE false");
	} else {
		sbuf_addf(change, " FROM pgphase_b b, jsonb_to_record(b.r) AS o(%s),"
			  " jsonb_to_record(b.key) AS k(%s) WHERE (%s) = (%s)", odef.buf, kdef.buf,
			  keys.buf, vals.buf);
	}
	rc = 0;
out:
	PQclear(r);
	sbuf_release(&keys);
	sbuf_release(&vals);
	sbuf_release(&kdef);
	sbuf_release(&odef);
	return rc;
}

/* A DELETE's rows inserted again, every column but the generated ones. */
static void insert_sql(const struct target *t, PGresult *cols, struct sbuf *change)
{
	struct sbuf names = SBUF_INIT, vals = SBUF_INIT;

	for (int k = 0; k < PQntuples(cols); k++) {
		char *c;

		if (strcmp(PQgetvalue(cols, k, 2), "t") == 0)
			continue;
		c = quote_ident_always(PQgetvalue(cols, k, 0));
		sbuf_addf(&names, "%s%s", names.len ? ", " : "", c);
		sbuf_addf(&vals, "%s(b.r).%s", vals.len ? ", " : "", c);
		free(c);
	}
	sbuf_addf(change, "INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s"
		  " FROM pgphase_b b ON CONFLICT DO NOTHING", t->rel, names.buf, vals.buf);
	sbuf_release(&names);
	sbuf_release(&vals);
}

/* The batch statement for it's table, or NULL with err set. */
static char *restore_sql(struct pgphase_session *s, const struct pgphase_migration *m,
			 const struct run_undo_item *it, struct pgphase_error *err)
{
	struct target t;
	struct sbuf change = SBUF_INIT;
	char v[24], i[16], *out = NULL, *tmpl, *r_expr;
	const char *p[3], *rp[1];
	PGresult *cols;

	if (target_load(it->step, &t, err) < 0)
		return NULL;
	params3(s, m, it, p, v, i);
	rp[0] = t.rel;
	cols = db_query(s, SQL_COLUMNS, 1, rp, PGRES_TUPLES_OK, err);
	if (!cols)
		goto out;
	if (t.update) {
		if (update_sql(s, &t, cols, p, &change, err) < 0)
			goto out;
		r_expr = xstrdup("u.old");
	} else {
		insert_sql(&t, cols, &change);
		r_expr = xasprintf("(u.old #>> '{}')::%s", t.rel);
	}
	tmpl = xasprintf(SQL_RESTORE, r_expr, change.buf);
	out = state_sql(s, tmpl);
	free(tmpl);
	free(r_expr);
out:
	PQclear(cols);
	sbuf_release(&change);
	target_release(&t);
	return out;
}

int run_restore_print(struct pgphase_session *s, const struct pgphase_migration *m,
		      const struct run_undo_item *it, FILE *out, struct pgphase_error *err)
{
	char *sql;

	if (run_restore_check(s, m, it, err) < 0)
		return -1;
	sql = restore_sql(s, m, it, err);
	if (!sql)
		return -1;
	fprintf(out, "  -- %s:%d: the old values its backfill recorded, in batches of %s rows"
		" until none is left\n", it->step->file, it->step->line, RESTORE_BATCH);
	fprintf(out, "  %s;\n", sql);
	free(sql);
	return 0;
}

int run_restore(struct exec_ctx *x, const struct run_undo_item *it, struct pgphase_error *err)
{
	struct pgphase_session *s = x->s;
	char v[24], i[16], *sql = restore_sql(s, x->m, it, err);
	const char *p[3];
	long long rows = 0, batches = 0;
	int64_t started = now_us();
	int attempt = 0, rc = -1;

	if (!sql)
		return -1;
	params3(s, x->m, it, p, v, i);
	for (;;) {
		PGresult *r;
		long long done;

		if (pgphase_interrupted()) {
			pgphase_error_set(err, PGPHASE_EXIT_FAILED, "interrupted");
			break;
		}
		if (db_exec(s, "BEGIN", err) < 0)
			break;
		pgphase_verbose("  restore %s:%d: %s", it->step->file, it->step->line, sql);
		r = db_query(s, sql, 3, p, PGRES_TUPLES_OK, err);
		if (r && db_exec(s, "COMMIT", err) == 0) {
			done = atoll(PQgetvalue(r, 0, 0));
			rows += atoll(PQgetvalue(r, 0, 1));
			PQclear(r);
			if (done == 0) {
				rc = 0;
				break;
			}
			batches++;
			attempt = 0;
			started = now_us();
			continue;
		}
		PQclear(r);
		db_rollback(s);
		if (!(db_failed_with(s, SQLSTATE_LOCK_NOT_AVAILABLE) &&
		      exec_backoff(x, attempt++, started))) {
			pgphase_error_prefix(err, "%s:%d: restoring the old values failed",
					     it->step->file, it->step->line);
			break;
		}
		pgphase_error_release(err);
		pgphase_error_init(err);
	}
	if (rc == 0)
		pgphase_info("  restored %lld row%s changed by the backfill of %s:%d "
			     "(%lld batch%s)",
			     rows, rows == 1 ? "" : "s", it->step->file, it->step->line, batches,
			     batches == 1 ? "" : "es");
	free(sql);
	return rc;
}
