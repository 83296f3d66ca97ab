/*
 * Writing state: the migration row upsert and its events go out as one statement, so a step
 * that commits its changes commits its state and its outbox events with them (exactly once,
 * DESIGN §6 and §9).  Events travel as one JSON array parameter built with jansson.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/db.h"
#include "state/state.h"
#include "base/util.h"

/*
 * The events half shared by the three statements below: append the JSON array of events
 * (parameter EV) for the migration in $1..$4, with the run id and host in RUN and HOST, after
 * the row change of the CTE "row" has run.
 */
#define INSERT_EVENTS(RUN, HOST, EV)                                                           \
	"INSERT INTO @S@.events (module, version, name, file, type, phase, status, duration_ms,"   \
	"   rows, rows_swept, batches, error, run_id, run_host, run_user)"                         \
	" SELECT $1::text, $2::bigint, $3::text, $4::text, e.type, e.phase, e.status,"             \
	"        e.duration_ms, e.rows, e.rows_swept, e.batches, e.error,"                         \
	"        " RUN "::uuid, " HOST ", current_user"                                            \
	"   FROM (SELECT count(*) FROM row) AS r,"                                                  \
	"        ROWS FROM (jsonb_to_recordset(" EV "::jsonb) AS (type text, phase text,"          \
	"          status text, duration_ms bigint, rows bigint, rows_swept bigint, batches bigint," \
	"          error text)) WITH ORDINALITY"                                                    \
	"          AS e(type, phase, status, duration_ms, rows, rows_swept, batches, error, ord)"   \
	"  ORDER BY e.ord"

/*
 * $1 module, $2 version, $3 name, $4 file, $5 checksum, $6 state, $7 current_phase,
 * $8 next_step, $9 started mask, $10 finished mask, $11 last_error, $12 run_id, $13 host,
 * $14 pgphase version, $15 events (jsonb array), $16 step records (jsonb array).  Bit
 * (1 << phase) of the masks sets that phase's started_at (if unset) / finished_at.  now() is
 * the transaction start: the moment the step began; clock_timestamp() is the moment it
 * finished.  A row created here has every step recorded (steps_recorded); a row of an older
 * pgphase keeps false.  Completion drops the step records: only a rerun of an unfinished
 * migration reads them.
 */
static const char *const SQL_UPSERT =
	"WITH steps AS ("
	" INSERT INTO @S@.steps AS s (module, version, phase, step, fingerprint, line, done)"
	" SELECT $1::text, $2::bigint, r.phase, r.step, r.fingerprint, r.line, r.done"
	"   FROM jsonb_to_recordset($16::jsonb)"
	"        AS r(phase text, step int, fingerprint text, line int, done boolean)"
	" ON CONFLICT (module, version, phase, step) DO UPDATE SET"
	"   fingerprint = EXCLUDED.fingerprint, line = EXCLUDED.line, done = EXCLUDED.done,"
	"   recorded_at = clock_timestamp()),"
	" dropped AS ("
	" DELETE FROM @S@.steps WHERE module = $1::text AND version = $2::bigint"
	"   AND $6::text = 'complete'),"
	" row AS ("
	" INSERT INTO @S@.migrations AS m (module, version, name, file, checksum, state,"
	"   current_phase, next_step, expand_started_at, expand_finished_at, backfill_started_at,"
	"   backfill_finished_at, contract_started_at, contract_finished_at, applied_at,"
	"   last_error, failed_at, applied_host, pgphase_version, run_id, steps_recorded)"
	" VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::text, $6::text, nullif($7::text, ''), $8::int,"
	"   CASE WHEN $9::int & 2 <> 0 THEN now() END, CASE WHEN $10::int & 2 <> 0 THEN clock_timestamp() END,"
	"   CASE WHEN $9::int & 4 <> 0 THEN now() END, CASE WHEN $10::int & 4 <> 0 THEN clock_timestamp() END,"
	"   CASE WHEN $9::int & 8 <> 0 THEN now() END, CASE WHEN $10::int & 8 <> 0 THEN clock_timestamp() END,"
	"   CASE WHEN $6 = 'complete' THEN clock_timestamp() END,"
	"   $11::text, CASE WHEN $11 IS NOT NULL THEN clock_timestamp() END, $13::text, $14::text,"
	"   $12::uuid, true)"
	" ON CONFLICT (module, version) DO UPDATE SET"
	"   name = EXCLUDED.name, file = EXCLUDED.file, checksum = EXCLUDED.checksum,"
	"   state = EXCLUDED.state, current_phase = EXCLUDED.current_phase,"
	"   next_step = EXCLUDED.next_step,"
	"   expand_started_at = coalesce(m.expand_started_at, EXCLUDED.expand_started_at),"
	"   expand_finished_at = coalesce(EXCLUDED.expand_finished_at, m.expand_finished_at),"
	"   backfill_started_at = coalesce(m.backfill_started_at, EXCLUDED.backfill_started_at),"
	"   backfill_finished_at = coalesce(EXCLUDED.backfill_finished_at, m.backfill_finished_at),"
	"   contract_started_at = coalesce(m.contract_started_at, EXCLUDED.contract_started_at),"
	"   contract_finished_at = coalesce(EXCLUDED.contract_finished_at, m.contract_finished_at),"
	"   applied_at = EXCLUDED.applied_at, last_error = EXCLUDED.last_error,"
	"   failed_at = EXCLUDED.failed_at, applied_by = current_user,"
	"   applied_host = EXCLUDED.applied_host, pgphase_version = EXCLUDED.pgphase_version,"
	"   run_id = EXCLUDED.run_id"
	" RETURNING 1),"
	/* a complete migration can no longer be undone: its recorded old values go */
	" undo_gone AS (DELETE FROM @S@.undo_rows"
	"   WHERE module = $1::text AND version = $2::bigint AND $6::text = 'complete')"
	INSERT_EVENTS("$12", "$13", "$15");

static const char *const SQL_FAILURE =
	"WITH row AS ("
	" UPDATE @S@.migrations SET last_error = $8::text, failed_at = clock_timestamp()"
	"  WHERE module = $1::text AND version = $2::bigint RETURNING 1)"
	INSERT_EVENTS("$5", "$6::text", "$7");

static const char *const SQL_DELETE =
	"WITH row AS ("
	" DELETE FROM @S@.migrations WHERE module = $1::text AND version = $2::bigint RETURNING 1),"
	" undo_gone AS (DELETE FROM @S@.undo_rows WHERE module = $1::text AND version = $2::bigint)"
	INSERT_EVENTS("$5", "$6::text", "$7");

static char *events_json(const struct pgphase_event *ev, size_t n)
{
	json_t *arr = json_array();
	char *out;

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "type", json_string(ev[i].type));
		json_object_set_new(o, "phase", ev[i].phase ? json_string(ev[i].phase) : json_null());
		json_object_set_new(o, "status", json_string(ev[i].status));
		json_object_set_new(o, "duration_ms",
				    ev[i].duration_ms >= 0 ? json_integer(ev[i].duration_ms) : json_null());
		json_object_set_new(o, "rows", ev[i].rows >= 0 ? json_integer(ev[i].rows) : json_null());
		json_object_set_new(o, "rows_swept",
				    ev[i].rows >= 0 ? json_integer(ev[i].rows_swept) : json_null());
		json_object_set_new(o, "batches",
				    ev[i].rows >= 0 ? json_integer(ev[i].batches) : json_null());
		json_object_set_new(o, "error", ev[i].error ? json_string(ev[i].error) : json_null());
		json_array_append_new(arr, o);
	}
	out = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return out;
}

static char *steps_json(const struct state_update *u)
{
	json_t *arr = json_array();
	char *out;

	for (size_t i = 0; u->state != PGPHASE_STATE_COMPLETE && i < u->n_steps; i++) {
		const struct pgphase_step_record *r = &u->steps[i];
		json_t *o = json_object();

		json_object_set_new(o, "phase", json_string(pgphase_phase_name(r->phase)));
		json_object_set_new(o, "step", json_integer(r->step));
		json_object_set_new(o, "fingerprint", json_string(r->fingerprint));
		json_object_set_new(o, "line", json_integer(r->line));
		json_object_set_new(o, "done", json_boolean(r->done));
		json_array_append_new(arr, o);
	}
	out = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return out;
}

static int run(struct pgphase_session *s, const char *tmpl, int n, const char *const *params,
	       struct pgphase_error *err)
{
	char *sql = state_sql(s, tmpl);
	int rc = db_command(s, sql, n, params, err);

	free(sql);
	return rc;
}

int state_write(struct pgphase_session *s, const struct pgphase_migration *m,
		const struct state_update *u, struct pgphase_error *err)
{
	char version[24], next[16], started[8], finished[8];
	char *events = events_json(u->events, u->n_events);
	char *steps = steps_json(u);
	const char *params[16];
	int rc;

	snprintf(version, sizeof(version), "%lld", (long long)m->version);
	snprintf(next, sizeof(next), "%d", u->next_step);
	snprintf(started, sizeof(started), "%u", u->started_mask);
	snprintf(finished, sizeof(finished), "%u", u->finished_mask);
	params[0] = s->cfg->module;
	params[1] = version;
	params[2] = m->name;
	params[3] = m->file;
	params[4] = m->checksum;
	params[5] = pgphase_mstate_name(u->state);
	params[6] = u->current_phase == PGPHASE_PHASE_NONE ? "" : pgphase_phase_name(u->current_phase);
	params[7] = next;
	params[8] = started;
	params[9] = finished;
	params[10] = u->last_error;
	params[11] = s->run_id;
	params[12] = s->run_host;
	params[13] = PGPHASE_VERSION;
	params[14] = events;
	params[15] = steps;
	rc = run(s, SQL_UPSERT, 16, params, err);
	free(steps);
	free(events);
	return rc;
}

/*
 * SQL_FAILURE and SQL_DELETE share their parameters: $1 module, $2 version, $3 name, $4 file,
 * $5 run_id, $6 host, $7 events; SQL_FAILURE adds $8, the error.
 */
static int write_events(struct pgphase_session *s, const char *tmpl,
			const struct pgphase_migration *m, const struct pgphase_event *events,
			size_t n, const char *error, struct pgphase_error *err)
{
	char version[24];
	char *ev = events_json(events, n);
	const char *params[8];
	int rc;

	snprintf(version, sizeof(version), "%lld", (long long)m->version);
	params[0] = s->cfg->module;
	params[1] = version;
	params[2] = m->name;
	params[3] = m->file;
	params[4] = s->run_id;
	params[5] = s->run_host;
	params[6] = ev;
	params[7] = error;
	rc = run(s, tmpl, error ? 8 : 7, params, err);
	free(ev);
	return rc;
}

int state_write_failure(struct pgphase_session *s, const struct pgphase_migration *m,
			const struct pgphase_event *ev, struct pgphase_error *err)
{
	return write_events(s, SQL_FAILURE, m, ev, 1, ev->error ? ev->error : "failed", err);
}

/* $1 module, $2 version, $3 first step (plan index); the skipped keys go with their rows. */
static const char *const SQL_RESET_BACKFILL =
	"DELETE FROM @S@.backfill_progress"
	" WHERE module = $1::text AND version = $2::bigint AND step >= $3::int";

int state_reset_backfill(struct pgphase_session *s, const struct pgphase_migration *m,
			 size_t step, struct pgphase_error *err)
{
	char version[24], from[24];
	const char *params[3] = { s->cfg->module, version, from };

	snprintf(version, sizeof(version), "%lld", (long long)m->version);
	snprintf(from, sizeof(from), "%zu", step);
	return run(s, SQL_RESET_BACKFILL, 3, params, err);
}

int state_delete(struct pgphase_session *s, const struct pgphase_migration *m,
		 const struct pgphase_event *events, size_t n, struct pgphase_error *err)
{
	return write_events(s, SQL_DELETE, m, events, n, NULL, err);
}

static const char *const SQL_HISTORY =
	"SELECT * FROM ("
	" SELECT e.seq, to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
	"        e.type, e.phase, e.status, e.error, e.name, e.file, e.run_host, e.run_user,"
	"        e.version, e.duration_ms, e.rows,"
	"        (SELECT string_agg(CASE WHEN d.delivered_at IS NOT NULL THEN 'delivered'"
	"                                WHEN d.failed_permanently THEN 'failed'"
	"                                ELSE 'pending' END || ' (' || d.attempts || ' attempt'"
	"                                || CASE WHEN d.attempts = 1 THEN '' ELSE 's' END || ')'"
	"                                || ' to ' || d.endpoint, '; ' ORDER BY d.endpoint)"
	"           FROM @S@.deliveries d WHERE d.event_id = e.id)"
	"   FROM @S@.events e WHERE e.module = $1"
	"  ORDER BY e.seq DESC LIMIT CASE WHEN $2::bigint > 0 THEN $2::bigint END) h"
	" ORDER BY seq";

int pgphase_history_load(struct pgphase_session *s, long limit,
			 struct pgphase_history_entry **out, size_t *n, struct pgphase_error *err)
{
	char lim[24], *sql;
	const char *params[2] = { s->cfg->module, lim };
	PGresult *r;

	*out = NULL;
	*n = 0;
	if (pgphase_state_ensure(s, false, err) < 0)
		return -1;
	if (!s->state_ready)
		return 0;
	snprintf(lim, sizeof(lim), "%ld", limit);
	sql = state_sql(s, SQL_HISTORY);
	r = db_query(s, sql, 2, params, PGRES_TUPLES_OK, err);
	free(sql);
	if (!r)
		return -1;
	*n = (size_t)PQntuples(r);
	*out = xcalloc(*n, sizeof(**out));
	for (int i = 0; i < PQntuples(r); i++) {
		struct pgphase_history_entry *h = &(*out)[i];
		char **cols[] = { &h->occurred_at, &h->type, &h->phase, &h->status, &h->error,
				  &h->name, &h->file, &h->run_host, &h->run_user };

		for (int c = 0; c < 9; c++)
			*cols[c] = PQgetisnull(r, i, c + 1) ? NULL : xstrdup(PQgetvalue(r, i, c + 1));
		h->version = PQgetisnull(r, i, 10) ? 0 : strtoll(PQgetvalue(r, i, 10), NULL, 10);
		h->duration_ms = PQgetisnull(r, i, 11) ? -1 : atol(PQgetvalue(r, i, 11));
		h->rows = PQgetisnull(r, i, 12) ? -1 : atoll(PQgetvalue(r, i, 12));
		h->delivery = PQgetisnull(r, i, 13) ? NULL : xstrdup(PQgetvalue(r, i, 13));
	}
	PQclear(r);
	return 0;
}

void pgphase_history_release(struct pgphase_history_entry *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(h[i].occurred_at);
		free(h[i].type);
		free(h[i].phase);
		free(h[i].status);
		free(h[i].error);
		free(h[i].name);
		free(h[i].file);
		free(h[i].run_host);
		free(h[i].run_user);
		free(h[i].delivery);
	}
	free(h);
}
