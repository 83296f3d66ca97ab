/*
 * Chunks of a backfill in <state>.backfill_progress: created once, by whichever worker of
 * whichever process comes first (under a transaction advisory lock, so two processes
 * starting together do not both create them), from a block sample of the table's keys;
 * read back for totals and for `pgphase status`.  Chunk i covers keys in (cursor, upper]
 * (NULL bounds are open); chunk -1 is the sweep row.  Does not run batches.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backfill/backfill.h"
#include "base/db.h"
#include "state/state.h"
#include "base/util.h"

/* Aim for this many sampled rows, and for chunks of about this many rows. */
#define SAMPLE_ROWS 20000.0
#define CHUNK_ROWS 10000.0
#define MAX_CHUNKS 256

/* Serialise chunk creation per (module, version, step); released at commit. */
static const char *const SQL_SETUP_LOCK =
	"SELECT pg_advisory_xact_lock(" BF_LOCK_CLASS ", hashtext($1 || '/' || $2 || '/' || $3))";

/* What exists already: chunk rows, sweep row, the key they were cut on. */
static const char *const SQL_EXISTING =
	"SELECT count(*) FILTER (WHERE chunk >= 0), count(*) FILTER (WHERE chunk = -1),"
	"       coalesce(max(key_columns), ''), count(*) FILTER (WHERE key_columns IS NULL),"
	"       coalesce(sum(rows_done), 0), coalesce(sum(rows_estimate), 0)"
	"  FROM @S@.backfill_progress WHERE module = $1 AND version = $2 AND step = $3";

/* Table size in pages now, and the planner's density (reltuples < 0: never analyzed). */
static const char *const SQL_SIZE =
	"SELECT (pg_relation_size(c.oid) / current_setting('block_size')::int)::float8,"
	"       c.reltuples::float8, c.relpages::float8"
	"  FROM pg_class c WHERE c.oid = to_regclass($1)";

/* $7: JSON array of [cursor, upper] pairs (JSON null = open bound). */
static const char *const SQL_INSERT_CHUNKS =
	"INSERT INTO @S@.backfill_progress (module, version, step, table_name, chunk, cursor,"
	"   upper_bound, key_columns, rows_estimate, started_at)"
	" SELECT $1, $2, $3, $4, c.n - 1, nullif(c.b -> 0, 'null'), nullif(c.b -> 1, 'null'),"
	"        $5, $6, now()"
	"   FROM jsonb_array_elements($7::jsonb) WITH ORDINALITY AS c(b, n)";

/* The sweep row (chunk -1): its lock serialises sweepers; it counts swept rows. */
static const char *const SQL_INSERT_SWEEP =
	"INSERT INTO @S@.backfill_progress (module, version, step, table_name, chunk, key_columns,"
	"   started_at) VALUES ($1, $2, $3, $4, -1, $5, now()) ON CONFLICT DO NOTHING";

/* Rows of the earlier single-cursor loop: one open chunk, continued from its cursor. */
static const char *const SQL_ADOPT =
	"UPDATE @S@.backfill_progress SET key_columns = $4, upper_bound = NULL"
	" WHERE module = $1 AND version = $2 AND step = $3 AND key_columns IS NULL";

/* Totals over every chunk and the sweep row, for the result. */
static const char *const SQL_TOTALS =
	"SELECT coalesce(sum(rows_done), 0), coalesce(sum(rows_swept), 0),"
	"       coalesce(sum(rows_skipped), 0), coalesce(sum(batches), 0)"
	"  FROM @S@.backfill_progress WHERE module = $1 AND version = $2 AND step = $3";

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Per step: a chunk is active when a worker touched it within the last 30 s. */
static const char *const SQL_STATUS =
	"SELECT p.version, p.step, min(p.table_name), sum(p.rows_done), sum(p.rows_estimate),"
	"       sum(p.rows_swept),"
	"       (SELECT count(*) FROM @S@.backfill_skipped k WHERE k.module = p.module"
	"           AND k.version = p.version AND k.step = p.step),"
	"       sum(p.batches), count(*) FILTER (WHERE p.chunk >= 0),"
	"       count(*) FILTER (WHERE p.chunk >= 0 AND p.done),"
	"       count(*) FILTER (WHERE p.chunk >= 0 AND NOT p.done AND p.claimed_by IS NOT NULL"
	"                          AND p.updated_at > now() - interval '30 seconds'),"
	"       bool_and(p.done), " TS("max(p.updated_at)")
	"  FROM @S@.backfill_progress p"
	" WHERE p.module = $1 AND ($2::bigint < 0 OR p.version = $2::bigint)"
	" GROUP BY p.module, p.version, p.step ORDER BY p.version, p.step";

static PGresult *q(struct pgphase_session *s, const char *tmpl, int n, const char *const *params,
		   ExecStatusType expect, struct pgphase_error *err)
{
	char *sql = state_sql(s, tmpl);
	PGresult *r = db_query(s, sql, n, params, expect, err);

	free(sql);
	return r;
}

static int cmd(struct pgphase_session *s, const char *tmpl, int n, const char *const *params,
	       struct pgphase_error *err)
{
	PGresult *r = q(s, tmpl, n, params, PGRES_COMMAND_OK, err);

	PQclear(r);
	return r ? 0 : -1;
}

/* Sample percentage that reads about SAMPLE_ROWS rows. */
static int sample_percent(struct bf_job *j, struct pgphase_session *s, double *pct,
			  struct pgphase_error *err)
{
	const char *params[1] = { j->rel_quoted };
	PGresult *r = db_query(s, SQL_SIZE, 1, params, PGRES_TUPLES_OK, err);
	double pages, tuples, relpages, density;

	if (!r)
		return -1;
	pages = atof(PQgetvalue(r, 0, 0));
	tuples = atof(PQgetvalue(r, 0, 1));
	relpages = atof(PQgetvalue(r, 0, 2));
	PQclear(r);
	density = tuples > 0 && relpages > 0 ? tuples / relpages : 60.0;
	*pct = pages * density > 0 ? 100.0 * SAMPLE_ROWS / (pages * density) : 100.0;
	if (*pct > 100)
		*pct = 100;
	if (*pct < 0.0001)
		*pct = 0.0001;
	return 0;
}

/* Boundaries from the sample: a JSON array of [cursor, upper] pairs and the estimate. */
static int cut(struct bf_job *j, struct pgphase_session *s, json_t **pairs, long long *estimate,
	       struct pgphase_error *err)
{
	char pct_s[32], step_s[32];
	const char *params[2] = { pct_s, step_s };
	double pct, n, match;
	long chunks, step;
	json_t *prev = json_null();
	PGresult *r;

	if (sample_percent(j, s, &pct, err) < 0)
		return -1;
	/* the sample size is known only afterwards: cut at SAMPLE_ROWS / MAX_CHUNKS, thin out */
	snprintf(pct_s, sizeof(pct_s), "%.6f", pct);
	snprintf(step_s, sizeof(step_s), "%ld", (long)(SAMPLE_ROWS / MAX_CHUNKS / 4) + 1);
	r = db_query(s, j->sql.sample, 2, params, PGRES_TUPLES_OK, err);
	if (!r)
		return -1;
	n = PQntuples(r) ? atof(PQgetvalue(r, 0, 0)) : 0;
	match = PQntuples(r) ? atof(PQgetvalue(r, 0, 1)) : 0;
	*estimate = (long long)llround(match * 100.0 / pct);
	chunks = (long)ceil(n * 100.0 / pct / CHUNK_ROWS);
	if (chunks > MAX_CHUNKS)
		chunks = MAX_CHUNKS;
	step = chunks > 1 ? (PQntuples(r) + chunks - 1) / chunks : PQntuples(r) + 1;
	if (step < 1)
		step = 1;
	*pairs = json_array();
	for (int i = (int)step - 1; i < PQntuples(r); i += (int)step) {
		json_t *b = json_loads(PQgetvalue(r, i, 2), 0, NULL);

		if (!b)
			continue;
		if (json_equal(b, prev)) { /* a duplicate key value cannot split anything */
			json_decref(b);
			continue;
		}
		json_array_append_new(*pairs, json_pack("[OO]", prev, b));
		json_decref(prev);
		prev = b;
	}
	json_array_append_new(*pairs, json_pack("[On]", prev));
	json_decref(prev);
	PQclear(r);
	return 0;
}

/*
 * A backfill that keeps old values marks it when its chunks are made, before any batch:
 * rollback restores only backfills that recorded from their start (src/run/run_restore.c).
 * $1 module, $2 version, $3 step.
 */
static const char *const SQL_MARK_KEEPS_OLD =
	"INSERT INTO @S@.undo_rows (module, version, step, key, old)"
	" VALUES ($1, $2, $3, '[]', '[]') ON CONFLICT DO NOTHING";

static int create(struct bf_job *j, struct pgphase_session *s, long long *estimate,
		  struct pgphase_error *err)
{
	json_t *pairs = NULL;
	char *pairs_s, est_s[32];
	const char *params[7] = { s->cfg->module, j->version, j->step, j->rel_display,
				  j->key.display, est_s, NULL };
	int rc;

	if (cut(j, s, &pairs, estimate, err) < 0)
		return -1;
	snprintf(est_s, sizeof(est_s), "%lld", *estimate / (long long)json_array_size(pairs));
	pairs_s = json_dumps(pairs, JSON_COMPACT);
	params[6] = pairs_s;
	rc = cmd(s, SQL_INSERT_CHUNKS, 7, params, err);
	if (rc == 0 && bf_keeps_old(j))
		rc = cmd(s, SQL_MARK_KEEPS_OLD, 3, params, err);
	free(pairs_s);
	json_decref(pairs);
	return rc;
}

int bf_setup(struct bf_job *j, struct pgphase_session *s, long long *estimate,
	     long long *done_before, struct pgphase_error *err)
{
	const char *params[5] = { s->cfg->module, j->version, j->step, j->rel_display,
				  j->key.display };
	PGresult *r;

	if (db_exec(s, "BEGIN", err) < 0)
		return -1;
	r = db_query(s, SQL_SETUP_LOCK, 3, params, PGRES_TUPLES_OK, err);
	PQclear(r);
	if (!r || !(r = q(s, SQL_EXISTING, 3, params, PGRES_TUPLES_OK, err)))
		goto fail;
	*done_before = atoll(PQgetvalue(r, 0, 4));
	*estimate = atoll(PQgetvalue(r, 0, 5));
	if (atoll(PQgetvalue(r, 0, 0)) == 0) {
		PQclear(r);
		if (create(j, s, estimate, err) < 0)
			goto fail;
	} else if (atoll(PQgetvalue(r, 0, 3)) == 0 && strcmp(PQgetvalue(r, 0, 2), j->key.display)) {
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "the backfill of \"%s\" was started on key "
				  "(%s), but the key is now (%s)", j->rel_display,
				  PQgetvalue(r, 0, 2), j->key.display);
		pgphase_error_hint(err, "finish it with --key \"%s\"", PQgetvalue(r, 0, 2));
		PQclear(r);
		goto fail;
	} else {
		const char *adopt[4] = { params[0], params[1], params[2], j->key.display };

		PQclear(r);
		if (cmd(s, SQL_ADOPT, 4, adopt, err) < 0)
			goto fail;
	}
	if (cmd(s, SQL_INSERT_SWEEP, 5, params, err) < 0)
		goto fail;
	return db_exec(s, "COMMIT", err);
fail:
	db_rollback(s);
	return -1;
}

int bf_totals(struct bf_job *j, struct pgphase_session *s, struct pgphase_backfill_result *res,
	      struct pgphase_error *err)
{
	const char *params[3] = { s->cfg->module, j->version, j->step };
	PGresult *r = q(s, SQL_TOTALS, 3, params, PGRES_TUPLES_OK, err);

	if (!r)
		return -1;
	res->rows = atoll(PQgetvalue(r, 0, 0));
	res->rows_swept = atoll(PQgetvalue(r, 0, 1));
	res->rows_skipped = atoll(PQgetvalue(r, 0, 2));
	res->batches = atoll(PQgetvalue(r, 0, 3));
	PQclear(r);
	return 0;
}

int pgphase_backfill_status_load(struct pgphase_session *s, int64_t version,
				 struct pgphase_backfill_status **out, size_t *n,
				 struct pgphase_error *err)
{
	char v[24];
	const char *params[2] = { s->cfg->module, v };
	PGresult *r;

	*out = NULL;
	*n = 0;
	if (pgphase_state_ensure(s, false, err) < 0)
		return -1;
	if (!s->state_ready)
		return 0;
	snprintf(v, sizeof(v), "%lld", (long long)version);
	r = q(s, SQL_STATUS, 2, params, PGRES_TUPLES_OK, err);
	if (!r)
		return -1;
	*n = (size_t)PQntuples(r);
	*out = xcalloc(*n ? *n : 1, sizeof(**out));
	for (int i = 0; i < PQntuples(r); i++) {
		struct pgphase_backfill_status *st = &(*out)[i];

		st->version = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		st->step = atoi(PQgetvalue(r, i, 1));
		st->table = xstrdup(PQgetvalue(r, i, 2));
		st->rows_done = atoll(PQgetvalue(r, i, 3));
		st->rows_estimate = atoll(PQgetvalue(r, i, 4));
		st->rows_swept = atoll(PQgetvalue(r, i, 5));
		st->rows_pending_sweep = atoll(PQgetvalue(r, i, 6));
		st->batches = atoll(PQgetvalue(r, i, 7));
		st->chunks = atoi(PQgetvalue(r, i, 8));
		st->chunks_done = atoi(PQgetvalue(r, i, 9));
		st->chunks_active = atoi(PQgetvalue(r, i, 10));
		st->done = strcmp(PQgetvalue(r, i, 11), "t") == 0;
		st->updated_at = xstrdup(PQgetvalue(r, i, 12));
	}
	PQclear(r);
	return 0;
}

void pgphase_backfill_status_free(struct pgphase_backfill_status *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(st[i].table);
		free(st[i].updated_at);
	}
	free(st);
}
