/*
 * State tables: creation and self-upgrade, the run lock, reading and writing migration rows,
 * and the event history.  SQL text lives in named constants; "@S@" stands for the quoted
 * state schema (PQescapeIdentifier) and is substituted by state_sql().
 *
 * Creation and upgrade run in one transaction under a transaction-level advisory lock on the
 * schema, so two modules starting at once on a fresh database do not race on CREATE TABLE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "base/backoff.h"
#include "base/db.h"
#include "pgphase/log.h"
#include "state/state.h"
#include "base/util.h"

#define STATE_SCHEMA_VERSION 4

/* Version 1 of the state schema. */
static const char *const SQL_STATE_V1 =
	"CREATE SCHEMA IF NOT EXISTS @S@;"
	"CREATE TABLE IF NOT EXISTS @S@.meta (key text PRIMARY KEY, value text NOT NULL);"
	"CREATE TABLE IF NOT EXISTS @S@.migrations ("
	"  module text NOT NULL,"
	"  version bigint NOT NULL,"
	"  name text NOT NULL,"
	"  file text NOT NULL,"
	"  checksum text NOT NULL,"
	"  state text NOT NULL CHECK (state IN ('pending','expanded','backfilled','complete')),"
	"  current_phase text CHECK (current_phase IN ('expand','backfill','contract')),"
	"  next_step int NOT NULL DEFAULT 0,"
	"  expand_started_at timestamptz, expand_finished_at timestamptz,"
	"  backfill_started_at timestamptz, backfill_finished_at timestamptz,"
	"  contract_started_at timestamptz, contract_finished_at timestamptz,"
	"  applied_at timestamptz,"
	"  last_error text, failed_at timestamptz,"
	"  applied_by text NOT NULL DEFAULT current_user, applied_host text,"
	"  pgphase_version text, run_id uuid,"
	"  PRIMARY KEY (module, version));"
	"CREATE TABLE IF NOT EXISTS @S@.backfill_progress ("
	"  module text NOT NULL, version bigint NOT NULL, step int NOT NULL,"
	"  table_name text NOT NULL, chunk bigint NOT NULL DEFAULT 0,"
	"  cursor jsonb, rows_done bigint NOT NULL DEFAULT 0,"
	"  rows_skipped bigint NOT NULL DEFAULT 0, batches bigint NOT NULL DEFAULT 0,"
	"  done boolean NOT NULL DEFAULT false, claimed_by text,"
	"  updated_at timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (module, version, step, chunk));"
	"CREATE TABLE IF NOT EXISTS @S@.events ("
	"  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
	"  seq bigserial NOT NULL UNIQUE,"
	"  module text NOT NULL, version bigint, name text, file text,"
	"  type text NOT NULL, phase text, status text NOT NULL,"
	"  occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  duration_ms bigint, rows bigint, error text,"
	"  run_id uuid, run_host text, run_user text);"
	"CREATE INDEX IF NOT EXISTS events_module_seq ON @S@.events (module, seq);"
	"CREATE TABLE IF NOT EXISTS @S@.deliveries ("
	"  event_id uuid NOT NULL REFERENCES @S@.events (id) ON DELETE CASCADE,"
	"  endpoint text NOT NULL,"
	"  attempts int NOT NULL DEFAULT 0,"
	"  next_attempt_at timestamptz,"
	"  delivered_at timestamptz, failed_permanently boolean NOT NULL DEFAULT false,"
	"  last_status int, last_error text,"
	"  PRIMARY KEY (event_id, endpoint));";

/*
 * Version 2: the backfill engine (src/backfill*.c).  A backfill is split into key chunks
 * (chunk >= 0: cursor .. upper_bound] plus one sweep row (chunk -1) that serialises the
 * sweep of rows skipped because the application held them locked; those rows' keys wait in
 * backfill_skipped, which goes with its chunk row (rollback deletes progress rows).
 */
static const char *const SQL_UPGRADE_V2 =
	"ALTER TABLE @S@.backfill_progress"
	"  ADD COLUMN IF NOT EXISTS upper_bound jsonb,"
	"  ADD COLUMN IF NOT EXISTS key_columns text,"
	"  ADD COLUMN IF NOT EXISTS rows_estimate bigint NOT NULL DEFAULT 0,"
	"  ADD COLUMN IF NOT EXISTS rows_swept bigint NOT NULL DEFAULT 0,"
	"  ADD COLUMN IF NOT EXISTS started_at timestamptz;"
	"CREATE TABLE IF NOT EXISTS @S@.backfill_skipped ("
	"  module text NOT NULL, version bigint NOT NULL, step int NOT NULL,"
	"  chunk bigint NOT NULL, key jsonb NOT NULL,"
	"  PRIMARY KEY (module, version, step, key),"
	"  FOREIGN KEY (module, version, step, chunk)"
	"    REFERENCES @S@.backfill_progress ON DELETE CASCADE);";

/* Version 3: a backfill's phase events also carry rows skipped-then-swept and batches. */
static const char *const SQL_UPGRADE_V3 =
	"ALTER TABLE @S@.events"
	"  ADD COLUMN IF NOT EXISTS rows_swept bigint,"
	"  ADD COLUMN IF NOT EXISTS batches bigint;";

/*
 * Version 4: two tables.
 * - steps: the identity of every step an unfinished migration ran (src/exec/exec_resume.c),
 *   so a rerun after the file was fixed in place resumes by identity, not by position.  Rows
 *   from earlier versions keep steps_recorded false: their steps are known only by position.
 *   A step row goes with its migration row (rollback deletes it) and is dropped when the
 *   migration completes.
 * - undo_rows: the old values of the rows a data change of the backfill changed, recorded in
 *   each batch's transaction (src/backfill/backfill_sql.c) so that rollback of a migration
 *   that is not complete restores them (src/run/run_restore.c).  key: the row's key columns as
 *   a JSON object of text values; old: an UPDATE's set columns likewise, a DELETE's whole row
 *   as its record text in a JSON string.  One marker row per backfill (key '[]') says the
 *   backfill recorded from its start.  The rows go when the migration completes or is rolled
 *   back.
 */
static const char *const SQL_UPGRADE_V4 =
	"ALTER TABLE @S@.migrations"
	"  ADD COLUMN IF NOT EXISTS steps_recorded boolean NOT NULL DEFAULT false;"
	"CREATE TABLE IF NOT EXISTS @S@.steps ("
	"  module text NOT NULL, version bigint NOT NULL,"
	"  phase text NOT NULL CHECK (phase IN ('expand','backfill','contract')),"
	"  step int NOT NULL,"
	"  fingerprint text NOT NULL,"
	"  line int NOT NULL,"
	"  done boolean NOT NULL,"
	"  recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  PRIMARY KEY (module, version, phase, step),"
	"  FOREIGN KEY (module, version) REFERENCES @S@.migrations ON DELETE CASCADE);"
	"CREATE TABLE IF NOT EXISTS @S@.undo_rows ("
	"  module text NOT NULL, version bigint NOT NULL, step int NOT NULL,"
	"  key jsonb NOT NULL, old jsonb NOT NULL,"
	"  PRIMARY KEY (module, version, step, key));";

/* Upgrade steps: index i takes the state schema from version i+1 to i+2. */
static const char *const *const SQL_UPGRADES[] = { &SQL_UPGRADE_V2, &SQL_UPGRADE_V3,
						   &SQL_UPGRADE_V4, NULL };

char *state_sql(struct pgphase_session *s, const char *tmpl)
{
	struct sbuf sb = SBUF_INIT;
	const char *p = tmpl, *at;

	while ((at = strstr(p, "@S@"))) {
		sbuf_add(&sb, p, (size_t)(at - p));
		sbuf_adds(&sb, s->schema_q);
		p = at + 3;
	}
	sbuf_adds(&sb, p);
	return sbuf_detach(&sb);
}

/* Current state schema version, 0 when absent. */
static int schema_version(struct pgphase_session *s, int *version, struct pgphase_error *err)
{
	char *sql = state_sql(s, "SELECT CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE 1 END");
	char *meta = xasprintf("%s.meta", s->schema_q);
	const char *params[1] = { meta };
	PGresult *r = db_query(s, sql, 1, params, PGRES_TUPLES_OK, err);
	int rc = -1;

	free(sql);
	free(meta);
	if (!r)
		return -1;
	*version = 0;
	if (!PQgetisnull(r, 0, 0)) {
		PQclear(r);
		sql = state_sql(s, "SELECT value::int FROM @S@.meta WHERE key = 'schema_version'");
		r = db_query(s, sql, 0, NULL, PGRES_TUPLES_OK, err);
		free(sql);
		if (!r)
			return -1;
		if (PQntuples(r) > 0)
			*version = atoi(PQgetvalue(r, 0, 0));
	}
	rc = 0;
	PQclear(r);
	return rc;
}

static int create_or_upgrade(struct pgphase_session *s, int from, struct pgphase_error *err)
{
	const char *params[1] = { s->cfg->state_schema };
	char *sql = NULL, *ver;
	int rc = -1;

	if (db_exec(s, "BEGIN", err) < 0)
		return -1;
	{
		PGresult *r = db_query(s, "SELECT pg_advisory_xact_lock(" PGPHASE_LOCK_CLASS
				       ", hashtext('schema/' || $1))", 1, params, PGRES_TUPLES_OK, err);

		if (!r)
			goto fail;
		PQclear(r);
	}
	/* re-check under the lock: another runner may have finished meanwhile */
	if (schema_version(s, &from, err) < 0)
		goto fail;
	if (from == 0) {
		sql = state_sql(s, SQL_STATE_V1);
		if (db_exec(s, sql, err) < 0)
			goto fail;
		free(sql);
		sql = NULL;
		from = 1;
	}
	for (; from < STATE_SCHEMA_VERSION; from++) {
		sql = state_sql(s, SQL_UPGRADES[from - 1][0]);
		if (db_exec(s, sql, err) < 0)
			goto fail;
		free(sql);
		sql = NULL;
	}
	ver = xasprintf("%d", STATE_SCHEMA_VERSION);
	sql = state_sql(s, "INSERT INTO @S@.meta VALUES ('schema_version', $1) "
			   "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value");
	params[0] = ver;
	rc = db_command(s, sql, 1, params, err);
	free(ver);
	if (rc < 0)
		goto fail;
	rc = db_exec(s, "COMMIT", err);
	free(sql);
	return rc;
fail:
	free(sql);
	db_rollback(s);
	if (db_failed_with(s, SQLSTATE_INSUFFICIENT_PRIVILEGE)) {
		char *msg = xstrdup(err->message);

		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot create state schema \"%s\": %s",
				  s->cfg->state_schema, msg + (strncmp(msg, "query failed: ", 14) ? 0 : 14));
		pgphase_error_hint(err, "grant CREATE on the database (or create the schema \"%s\" "
					"owned by this role), or choose another --state-schema",
				   s->cfg->state_schema);
		free(msg);
	}
	return -1;
}

int pgphase_state_ensure(struct pgphase_session *s, bool create, struct pgphase_error *err)
{
	int version = 0;

	if (s->state_ready)
		return 0;
	if (schema_version(s, &version, err) < 0)
		return -1;
	if (version > STATE_SCHEMA_VERSION)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
					 "state schema \"%s\" has version %d, newer than this pgphase "
					 "understands (%d)", s->cfg->state_schema, version,
					 STATE_SCHEMA_VERSION);
	if (version == STATE_SCHEMA_VERSION) {
		s->state_ready = true;
		return 0;
	}
	if (!create)
		return 0;
	if (create_or_upgrade(s, version, err) < 0)
		return -1;
	s->state_ready = true;
	return 0;
}

/* ---- run lock ------------------------------------------------------------------------ */

static const char *const SQL_TRY_LOCK =
	"SELECT pg_try_advisory_lock(" PGPHASE_LOCK_CLASS ", hashtext($1))";

/* Who holds the lock: advisory locks show classid/objid as oids (objsubid 2 = two-int form). */
static const char *const SQL_LOCK_HOLDER =
	"SELECT a.pid, coalesce(nullif(a.application_name, ''), '(none)'),"
	"       coalesce(host(a.client_addr), 'local socket'),"
	"       to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
	"  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
	" WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
	"   AND l.classid = " PGPHASE_LOCK_CLASS "::bigint::oid"
	"   AND l.objid = (hashtext($1)::bigint & 4294967295)::oid"
	" LIMIT 1";

int pgphase_session_lock(struct pgphase_session *s, struct pgphase_error *err)
{
	char *key = xasprintf("%s/%s", s->cfg->state_schema, s->cfg->module);
	const char *params[1] = { key };
	int64_t deadline = now_us() + (int64_t)s->cfg->lock_wait_ms * 1000;
	bool announced = false;
	int rc = -1;

	for (;;) {
		PGresult *r = db_query(s, SQL_TRY_LOCK, 1, params, PGRES_TUPLES_OK, err);
		bool got;

		if (!r)
			goto cleanup;
		got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		if (got) {
			s->locked = true;
			rc = 0;
			goto cleanup;
		}
		if (now_us() >= deadline || pgphase_interrupted())
			break;
		if (!announced && s->cfg->lock_wait_ms > 0) {
			pgphase_info("waiting up to %.1f s for another pgphase run on module \"%s\"",
				     s->cfg->lock_wait_ms / 1000.0, s->cfg->module);
			announced = true;
		}
		backoff_sleep(100 * 1000, NULL, NULL);
	}
	{
		PGresult *r = db_query(s, SQL_LOCK_HOLDER, 1, params, PGRES_TUPLES_OK, err);

		if (!r)
			goto cleanup;
		if (PQntuples(r) > 0)
			pgphase_error_set(err, PGPHASE_EXIT_LOCKED,
					  "another pgphase run holds the lock for module \"%s\": pid %s, "
					  "application_name \"%s\", client %s, connected since %s",
					  s->cfg->module, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
					  PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
		else
			pgphase_error_set(err, PGPHASE_EXIT_LOCKED,
					  "another pgphase run holds the lock for module \"%s\"",
					  s->cfg->module);
		pgphase_error_hint(err, "wait for it to finish, or pass --lock-wait SECONDS");
		PQclear(r);
	}
cleanup:
	free(key);
	return rc;
}

/* ---- reading rows -------------------------------------------------------------------- */

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define DUR(p) "(extract(epoch FROM " p "_finished_at - " p "_started_at) * 1000)::bigint"

/* The migration rows; REC is the steps_recorded column (false before state version 4). */
#define SQL_LOAD_ROWS(REC)                                                                     \
	"SELECT version, name, file, checksum, state, coalesce(current_phase, ''), next_step,"     \
	"       " TS("expand_started_at") ", " TS("expand_finished_at") ", " DUR("expand") ","     \
	"       " TS("backfill_started_at") ", " TS("backfill_finished_at") ", " DUR("backfill") "," \
	"       " TS("contract_started_at") ", " TS("contract_finished_at") ", " DUR("contract") "," \
	"       " TS("applied_at") ", last_error, applied_by, applied_host, pgphase_version, "     \
	REC "  FROM @S@.migrations WHERE module = $1 ORDER BY version"

/* The step records of unfinished migrations (version 4), in the order the rows are read. */
static const char *const SQL_LOAD_STEPS =
	"SELECT s.version, s.phase, s.step, s.fingerprint, s.line, s.done"
	"  FROM @S@.steps s JOIN @S@.migrations m USING (module, version)"
	" WHERE s.module = $1 AND m.state <> 'complete'"
	" ORDER BY s.version, array_position(ARRAY['expand','backfill','contract'], s.phase), s.step";

const char *pgphase_mstate_name(enum pgphase_mstate st)
{
	static const char *const names[] = { "pending", "expanded", "backfilled", "complete" };

	return names[st];
}

static enum pgphase_mstate mstate_from(const char *s)
{
	for (int i = PGPHASE_STATE_COMPLETE; i > 0; i--)
		if (strcmp(pgphase_mstate_name((enum pgphase_mstate)i), s) == 0)
			return (enum pgphase_mstate)i;
	return PGPHASE_STATE_PENDING;
}

static enum pgphase_phase phase_from(const char *s)
{
	for (int p = PGPHASE_PHASE_EXPAND; p <= PGPHASE_PHASE_CONTRACT; p++)
		if (strcmp(pgphase_phase_name((enum pgphase_phase)p), s) == 0)
			return (enum pgphase_phase)p;
	return PGPHASE_PHASE_NONE;
}

static char *opt(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : xstrdup(PQgetvalue(r, row, col));
}

/* Attach the step records to their rows (both ordered by version). */
static int load_steps(struct pgphase_session *s, struct pgphase_state *st,
		      struct pgphase_error *err)
{
	const char *params[1] = { s->cfg->module };
	char *sql = state_sql(s, SQL_LOAD_STEPS);
	PGresult *r = db_query(s, sql, 1, params, PGRES_TUPLES_OK, err);
	size_t k = 0;

	free(sql);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t version = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		struct pgphase_state_row *row;
		struct pgphase_step_record *rec;

		while (k < st->n && st->rows[k].version < version)
			k++;
		if (k == st->n || st->rows[k].version != version)
			continue; /* cannot happen: the join keeps only rows read above */
		row = &st->rows[k];
		if ((row->n_steps & (row->n_steps - 1)) == 0) /* 0, 1, 2, 4, ...: double */
			row->steps = xrealloc(row->steps, (row->n_steps ? 2 * row->n_steps : 1) *
						      sizeof(*row->steps));
		rec = &row->steps[row->n_steps++];
		rec->phase = phase_from(PQgetvalue(r, i, 1));
		rec->step = atoi(PQgetvalue(r, i, 2));
		snprintf(rec->fingerprint, sizeof(rec->fingerprint), "%s", PQgetvalue(r, i, 3));
		rec->line = atoi(PQgetvalue(r, i, 4));
		rec->done = strcmp(PQgetvalue(r, i, 5), "t") == 0;
	}
	PQclear(r);
	return 0;
}

int pgphase_state_load(struct pgphase_session *s, struct pgphase_state *st,
		       struct pgphase_error *err)
{
	const char *params[1] = { s->cfg->module };
	PGresult *r;
	char *sql;

	int version = STATE_SCHEMA_VERSION;

	memset(st, 0, sizeof(*st));
	if (pgphase_state_ensure(s, false, err) < 0)
		return -1;
	/* tables of an older version are read as they are (the first run that changes
	 * anything upgrades them): their rows must not look pending */
	if (!s->state_ready && schema_version(s, &version, err) < 0)
		return -1;
	if (version == 0)
		return 0;
	sql = state_sql(s, version >= 4 ? SQL_LOAD_ROWS("steps_recorded")
				       : SQL_LOAD_ROWS("false"));
	r = db_query(s, sql, 1, params, PGRES_TUPLES_OK, err);
	free(sql);
	if (!r)
		return -1;
	st->n = (size_t)PQntuples(r);
	st->rows = xcalloc(st->n, sizeof(*st->rows));
	for (int i = 0; i < PQntuples(r); i++) {
		struct pgphase_state_row *row = &st->rows[i];

		row->version = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		row->name = opt(r, i, 1);
		row->file = opt(r, i, 2);
		row->checksum = opt(r, i, 3);
		row->state = mstate_from(PQgetvalue(r, i, 4));
		row->current_phase = phase_from(PQgetvalue(r, i, 5));
		row->next_step = atoi(PQgetvalue(r, i, 6));
		for (int p = 1; p <= 3; p++) {
			int c = 7 + (p - 1) * 3;

			row->phases[p].started_at = opt(r, i, c);
			row->phases[p].finished_at = opt(r, i, c + 1);
			row->phases[p].duration_ms = PQgetisnull(r, i, c + 2) ? -1
						      : atol(PQgetvalue(r, i, c + 2));
		}
		row->applied_at = opt(r, i, 16);
		row->last_error = opt(r, i, 17);
		row->applied_by = opt(r, i, 18);
		row->applied_host = opt(r, i, 19);
		row->pgphase_version = opt(r, i, 20);
		row->steps_recorded = strcmp(PQgetvalue(r, i, 21), "t") == 0;
	}
	PQclear(r);
	return version >= 4 ? load_steps(s, st, err) : 0;
}

void pgphase_state_release(struct pgphase_state *st)
{
	for (size_t i = 0; i < st->n; i++) {
		struct pgphase_state_row *row = &st->rows[i];

		free(row->name);
		free(row->file);
		free(row->checksum);
		for (int p = 0; p < 4; p++) {
			free(row->phases[p].started_at);
			free(row->phases[p].finished_at);
		}
		free(row->applied_at);
		free(row->last_error);
		free(row->applied_by);
		free(row->applied_host);
		free(row->pgphase_version);
		free(row->steps);
	}
	free(st->rows);
	memset(st, 0, sizeof(*st));
}

struct pgphase_state_row *pgphase_state_find(const struct pgphase_state *st, int64_t version)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->rows[i].version == version)
			return &st->rows[i];
	return NULL;
}
