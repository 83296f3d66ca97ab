/*
 * The key a backfill walks: the primary key, else a unique index over NOT NULL columns,
 * else the columns the user names (--key).  One resolution for the planner and the engine:
 * from the catalog of the database being changed, with each column's type as format_type()
 * prints it (the sweep turns stored keys back into values with it); an offline plan takes
 * the key the migrations tell (the planner's model) and checks only what needs no catalog.
 * An INSERT ... SELECT walks the key of its source table.  A table with no usable key, a
 * missing table, a nullable key column, or an UPDATE that assigns a key column are input
 * errors (exit 2) naming the table.  Does not render SQL (backfill_sql.c).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backfill/backfill.h"
#include "base/db.h"
#include "base/util.h"

/* The table, if it exists: its kind ('r' table, 'p' partitioned table, others refused). */
static const char *const SQL_TABLE =
	"SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass($1)";

/*
 * Candidate keys, best first: [[name, type, not null], ...] per index.  Only indexes that
 * identify one row per value over plain columns qualify.
 */
static const char *const SQL_KEYS =
	"SELECT (SELECT json_agg(json_build_array(a.attname, format_type(a.atttypid, a.atttypmod),"
	"                                         a.attnotnull) ORDER BY k.n)"
	"          FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, n)"
	"          JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)::text"
	"  FROM pg_index i"
	" WHERE i.indrelid = to_regclass($1)"
	"   AND i.indisunique"      /* one row per key value */
	"   AND i.indisvalid"       /* not the leftover of a failed CREATE INDEX CONCURRENTLY */
	"   AND i.indpred IS NULL"  /* a partial index does not cover every row */
	"   AND i.indexprs IS NULL" /* plain columns: batches compare column values */
	" ORDER BY i.indisprimary DESC, i.indnkeyatts, i.indexrelid";

/* One named column: type and NOT NULL; user columns only (attnum > 0), not dropped ones. */
static const char *const SQL_COLUMN =
	"SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2"
	"   AND a.attnum > 0 AND NOT a.attisdropped";

void pgphase_backfill_key_release(struct pgphase_backfill_key *k)
{
	for (int i = 0; i < k->n; i++) {
		free(k->cols[i]);
		free(k->types[i]);
	}
	free(k->cols);
	free(k->types);
	free(k->display);
	memset(k, 0, sizeof(*k));
}

void pgphase_backfill_key_add(struct pgphase_backfill_key *k, const char *col, const char *type)
{
	struct sbuf sb = SBUF_INIT;

	k->cols = xrealloc(k->cols, sizeof(*k->cols) * (size_t)(k->n + 1));
	k->types = xrealloc(k->types, sizeof(*k->types) * (size_t)(k->n + 1));
	k->cols[k->n] = xstrdup(col);
	k->types[k->n++] = xstrdup(type);
	sbuf_addf(&sb, "%s%s%s", k->display ? k->display : "", k->display ? ", " : "", col);
	free(k->display);
	k->display = sbuf_detach(&sb);
}

static void key_copy(struct pgphase_backfill_key *dst, const struct pgphase_backfill_key *src)
{
	for (int i = 0; i < src->n; i++)
		pgphase_backfill_key_add(dst, src->cols[i], src->types[i]);
	dst->checked = src->checked;
}

static const char *verb(const struct bf_job *j)
{
	return j->update ? "UPDATE" : j->insert ? "INSERT ... SELECT" : "DELETE";
}

static int usage_kind(struct bf_job *j, struct pgphase_error *err, const char *kind,
		      const char *fmt, const char *a)
{
	const struct pgphase_backfill_spec *sp = j->spec;
	char *msg = xasprintf(fmt, j->rel_display, a);

	if (sp->file)
		pgphase_error_at(err, PGPHASE_EXIT_USAGE, kind, sp->file, sp->line, sp->column,
				 "%s", msg);
	else
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "%s", msg);
	err->kind = kind;
	free(msg);
	return -1;
}

static int usage(struct bf_job *j, struct pgphase_error *err, const char *fmt, const char *a)
{
	return usage_kind(j, err, "backfill-key", fmt, a);
}

/* Explicit --key columns: each must exist and be NOT NULL. */
static int explicit_key(struct bf_job *j, struct pgphase_session *s, struct pgphase_error *err)
{
	char *list = xstrdup(j->spec->key), *save = NULL, *tok;
	int rc = 0;

	for (tok = strtok_r(list, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
		const char *params[2] = { j->rel_quoted, tok };
		PGresult *r;

		while (*tok == ' ')
			tok++;
		for (char *e = tok + strlen(tok); e > tok && e[-1] == ' ';)
			*--e = '\0';
		params[1] = tok;
		r = db_query(s, SQL_COLUMN, 2, params, PGRES_TUPLES_OK, err);
		if (!r)
			rc = -1;
		else if (PQntuples(r) == 0)
			rc = usage(j, err, "backfill key column \"%2$s\" does not exist in \"%1$s\"", tok);
		else if (strcmp(PQgetvalue(r, 0, 1), "t") != 0) {
			rc = usage(j, err, "backfill key column \"%2$s\" of \"%1$s\" is nullable: rows "
				   "with NULL there would never be visited", tok);
			pgphase_error_hint(err, "name NOT NULL columns with --key");
		} else
			pgphase_backfill_key_add(&j->key, tok, PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	if (rc == 0 && j->key.n == 0)
		rc = usage(j, err, "empty --key for \"%s\"%s", "");
	free(list);
	return rc;
}

/* No usable key: the same message online and offline, the hint says where keys come from. */
static int no_key(struct bf_job *j, bool offline, struct pgphase_error *err)
{
	char *fmt = xasprintf("cannot run %s on \"%%s\" in batches: cannot find the table's "
			      "key (a primary key, or a unique index over NOT NULL columns)%%s",
			      verb(j));

	usage(j, err, fmt, "");
	free(fmt);
	pgphase_error_hint(err, "%s; or pass --key COLUMN[,COLUMN] (NOT NULL columns, ideally "
				"indexed); or put \"-- pgphase:as-is\" before the statement to run "
				"it in one transaction",
			   offline ? "offline, keys come only from CREATE TABLE statements in the "
				     "migrations directory" : "add a primary key");
	return -1;
}

/* The first candidate index whose columns are all NOT NULL. */
static int catalog_key(struct bf_job *j, struct pgphase_session *s, struct pgphase_error *err)
{
	const char *params[1] = { j->rel_quoted };
	PGresult *r = db_query(s, SQL_KEYS, 1, params, PGRES_TUPLES_OK, err);

	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r) && j->key.n == 0; i++) {
		json_t *cols = json_loads(PQgetvalue(r, i, 0), 0, NULL);
		size_t k;
		json_t *c;
		bool ok = json_is_array(cols);

		json_array_foreach(cols, k, c)
			ok = ok && json_is_true(json_array_get(c, 2));
		json_array_foreach(cols, k, c)
			if (ok)
				pgphase_backfill_key_add(&j->key,
							 json_string_value(json_array_get(c, 0)),
							 json_string_value(json_array_get(c, 1)));
		json_decref(cols);
	}
	PQclear(r);
	return j->key.n > 0 ? 0 : no_key(j, false, err);
}

/* An UPDATE that moves rows along the key would break the walk. */
static int check_key_not_set(struct bf_job *j, struct pgphase_error *err)
{
	const PgQuery__Node *st = j->spec->stmt;

	if (!j->update)
		return 0;
	for (size_t i = 0; i < st->update_stmt->n_target_list; i++) {
		const PgQuery__ResTarget *t = st->update_stmt->target_list[i]->res_target;

		for (int k = 0; t && t->name && k < j->key.n; k++)
			if (strcmp(t->name, j->key.cols[k]) == 0)
				return usage(j, err, "cannot backfill \"%s\" in batches: the UPDATE "
					     "changes key column \"%s\"", t->name);
	}
	return 0;
}

int bf_describe(struct bf_job *j, struct pgphase_error *err)
{
	const PgQuery__Node *st = j->spec->stmt;
	const PgQuery__RangeVar *rv;
	char *q;

	if (pgphase_backfill_check_batchable(j->spec, err) < 0)
		return -1;
	rv = pgphase_backfill_source(st);
	j->update = st->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT;
	j->insert = st->node_case == PG_QUERY__NODE__NODE_INSERT_STMT;
	/* INSERT: more FROM items than the source (checked to be the first) */
	j->joined = j->update ? st->update_stmt->n_from_clause > 0
		    : j->insert ? st->insert_stmt->select_stmt->select_stmt->n_from_clause > 1
		    : st->delete_stmt->n_using_clause > 0;
	j->rel_display = rv->schemaname && rv->schemaname[0]
			 ? xasprintf("%s.%s", rv->schemaname, rv->relname) : xstrdup(rv->relname);
	/* always quoted (every statement is deparsed, which normalises the quoting) */
	q = quote_ident_always(rv->relname);
	if (rv->schemaname && rv->schemaname[0]) {
		char *sq = quote_ident_always(rv->schemaname);

		j->rel_quoted = xasprintf("%s.%s", sq, q);
		free(sq);
	} else {
		j->rel_quoted = xstrdup(q);
	}
	free(q);
	j->qual = quote_ident_always(rv->alias && rv->alias->aliasname && rv->alias->aliasname[0]
				     ? rv->alias->aliasname : rv->relname);
	return 0;
}

/* The key on the database: the table must exist and be a table. */
static int key_on_db(struct bf_job *j, struct pgphase_session *s, struct pgphase_error *err)
{
	const char *params[1] = { j->rel_quoted };
	PGresult *r = db_query(s, SQL_TABLE, 1, params, PGRES_TUPLES_OK, err);
	int rc;

	if (!r)
		return -1;
	if (PQntuples(r) == 0 || !strchr("rp", PQgetvalue(r, 0, 0)[0])) {
		bool missing = PQntuples(r) == 0;

		PQclear(r);
		return usage_kind(j, err, missing ? PGPHASE_BACKFILL_NO_TABLE : "backfill-key",
				  missing ? "cannot backfill \"%s\": the table does not exist%s"
					  : "cannot backfill \"%s\": it is not a table%s", "");
	}
	PQclear(r);
	rc = j->spec->key && j->spec->key[0] ? explicit_key(j, s, err) : catalog_key(j, s, err);
	j->key.checked = rc == 0;
	return rc;
}

/* The key of a described job: on the database, or (s NULL) the one the migrations tell. */
static int key_resolve(struct bf_job *j, struct pgphase_session *s, struct pgphase_error *err)
{
	const struct pgphase_backfill_key *given = j->spec->resolved;

	if (s && key_on_db(j, s, err) < 0)
		return -1;
	if (!s && (!given || given->n == 0))
		return no_key(j, true, err);
	if (!s)
		key_copy(&j->key, given);
	if (check_key_not_set(j, err) < 0)
		return -1;
	if (j->key.n > 32) /* INDEX_MAX_KEYS: what any index may have */
		return usage(j, err, "cannot backfill \"%s\": a key of more than 32 columns%s", "");
	return 0;
}

int bf_resolve(struct bf_job *j, struct pgphase_session *s, struct pgphase_error *err)
{
	const struct pgphase_backfill_key *given = j->spec->resolved;

	if (bf_describe(j, err) < 0)
		return -1;
	if (given && given->checked && given->n > 0) {
		/* the planner resolved it on this database moments ago: one resolution */
		key_copy(&j->key, given);
		return 0;
	}
	return key_resolve(j, s, err);
}

void bf_job_names_release(struct bf_job *j)
{
	pgphase_backfill_key_release(&j->key);
	free(j->rel_display);
	free(j->rel_quoted);
	free(j->qual);
	j->rel_display = j->rel_quoted = j->qual = NULL;
}

int pgphase_backfill_key(struct pgphase_session *s, const struct pgphase_backfill_spec *spec,
			 struct pgphase_backfill_key *key, struct pgphase_error *err)
{
	struct bf_job j;
	int rc;

	memset(&j, 0, sizeof(j));
	j.spec = spec;
	rc = bf_describe(&j, err) < 0 ? -1 : key_resolve(&j, s, err);
	if (rc == 0) {
		*key = j.key;
		memset(&j.key, 0, sizeof(j.key));
	}
	bf_job_names_release(&j);
	return rc;
}
