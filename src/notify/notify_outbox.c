/*
 * The outbox tables, as the notifier uses them.  The executor appends event rows to
 * <state>.events in the transaction that finishes each phase; this file turns them into one
 * <state>.deliveries row per (event, endpoint), reads the next event an endpoint is owed and
 * records each attempt.  All SQL goes through db.c with parameters; "@S@" is the state
 * schema.  No HTTP here.
 *
 * Which events an endpoint is owed: those of its module after its "since" point, of a type
 * its filter wants, without a delivery row yet.  The since point (a seq, kept in <state>.meta
 * under "webhook_since/<module>/<endpoint>") is set once, the first time the endpoint is seen:
 * just before the first event of the current run, so the run that added the endpoint reports
 * its own events, else after the newest event, so adding an endpoint does not replay the
 * whole history.  Queueing by "no row yet" rather than by a moving cursor means an event is
 * never skipped, whatever order concurrent writers commit in, and a crash between the
 * phase's commit and the delivery loses nothing: the next pass queues it.
 */
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/db.h"
#include "notify/notify.h"
#include "state/state.h"
#include "base/util.h"

/* $1 meta key, $2 module, $3 run id. */
static const char *const SQL_SINCE_INIT =
	"INSERT INTO @S@.meta (key, value)"
	" SELECT $1::text, coalesce("
	"   (SELECT min(seq) - 1 FROM @S@.events WHERE module = $2::text AND run_id = $3::uuid),"
	"   (SELECT max(seq) FROM @S@.events WHERE module = $2::text), 0)::text"
	" ON CONFLICT (key) DO NOTHING";

/* $1 module, $2 endpoint, $3 meta key of the since point, $4 wanted types (jsonb array). */
static const char *const SQL_QUEUE =
	"INSERT INTO @S@.deliveries (event_id, endpoint, next_attempt_at)"
	" SELECT e.id, $2::text, clock_timestamp() FROM @S@.events e"
	"  WHERE e.module = $1::text"
	"    AND e.seq > (SELECT value::bigint FROM @S@.meta WHERE key = $3::text)"
	"    AND e.type IN (SELECT jsonb_array_elements_text($4::jsonb))"
	"    AND NOT EXISTS (SELECT 1 FROM @S@.deliveries d"
	"                     WHERE d.event_id = e.id AND d.endpoint = $2::text)"
	"  ORDER BY e.seq"
	" ON CONFLICT DO NOTHING";

/* The oldest event endpoint $2 is still owed in module $1 after seq $3 (permanent failures
 * too when $4): deliveries go out in seq order. */
static const char *const SQL_NEXT =
	"SELECT e.id, e.seq, e.type,"
	"       to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	"       e.module, e.version, e.name, e.file, e.phase, e.status, e.duration_ms, e.rows,"
	"       e.error, e.run_id, e.run_host, e.run_user, d.attempts, e.rows_swept, e.batches"
	"  FROM @S@.deliveries d JOIN @S@.events e ON e.id = d.event_id"
	" WHERE e.module = $1::text AND d.endpoint = $2::text"
	"   AND e.seq > $3::bigint AND d.delivered_at IS NULL"
	"   AND (NOT d.failed_permanently OR $4::boolean)"
	" ORDER BY e.seq LIMIT 1";

/* $1 event id, $2 endpoint, $3 outcome (delivered|retry|failed), $4 HTTP status (0: none),
 * $5 error, $6 milliseconds until the next attempt. */
static const char *const SQL_RECORD =
	"UPDATE @S@.deliveries SET attempts = attempts + 1,"
	"   delivered_at = CASE WHEN $3::text = 'delivered' THEN clock_timestamp() END,"
	"   failed_permanently = ($3::text = 'failed'),"
	"   next_attempt_at = CASE WHEN $3::text = 'retry'"
	"                     THEN clock_timestamp() + $6::bigint * interval '1 millisecond' END,"
	"   last_status = nullif($4::int, 0), last_error = $5::text"
	" WHERE event_id = $1::uuid AND endpoint = $2::text";

static const char *const SQL_COUNT =
	"SELECT count(*) FILTER (WHERE d.delivered_at IS NULL AND NOT d.failed_permanently),"
	"       count(*) FILTER (WHERE d.failed_permanently)"
	"  FROM @S@.deliveries d JOIN @S@.events e ON e.id = d.event_id"
	" WHERE e.module = $1::text AND d.endpoint = $2::text";

/* The notify lock: same class as the run lock, its own key per (state schema, module). */
static const char *const SQL_TRY_LOCK =
	"SELECT pg_try_advisory_lock(" PGPHASE_LOCK_CLASS ", hashtext($1::text))";
static const char *const SQL_UNLOCK =
	"SELECT pg_advisory_unlock(" PGPHASE_LOCK_CLASS ", hashtext($1::text))";

static int command(struct pgphase_session *s, const char *tmpl, int n, const char *const *params,
		   struct pgphase_error *err)
{
	char *sql = state_sql(s, tmpl);
	int rc = db_command(s, sql, n, params, err);

	free(sql);
	return rc;
}

static PGresult *query(struct pgphase_session *s, const char *tmpl, int n,
		       const char *const *params, struct pgphase_error *err)
{
	char *sql = state_sql(s, tmpl);
	PGresult *r = db_query(s, sql, n, params, PGRES_TUPLES_OK, err);

	free(sql);
	return r;
}

int outbox_queue(struct pgphase_session *s, const struct pgphase_webhook_config *w,
		 const char *endpoint, struct pgphase_error *err)
{
	char *key = xasprintf("webhook_since/%s/%s", s->cfg->module, endpoint);
	char *types = notify_wanted_json(w);
	const char *since[3] = { key, s->cfg->module, s->run_id };
	const char *queue[4] = { s->cfg->module, endpoint, key, types };
	int rc = -1;

	if (command(s, SQL_SINCE_INIT, 3, since, err) < 0)
		goto cleanup;
	if (command(s, SQL_QUEUE, 4, queue, err) < 0)
		goto cleanup;
	rc = 0;
cleanup:
	free(types);
	free(key);
	return rc;
}

static char *col(const PGresult *r, int c)
{
	return PQgetisnull(r, 0, c) ? NULL : xstrdup(PQgetvalue(r, 0, c));
}

static long long col_num(const PGresult *r, int c)
{
	return PQgetisnull(r, 0, c) ? -1 : strtoll(PQgetvalue(r, 0, c), NULL, 10);
}

int outbox_next(struct pgphase_session *s, const char *endpoint, int64_t after_seq,
		bool include_failed, struct notify_event *ev, struct pgphase_error *err)
{
	char after[24];
	const char *params[4] = { s->cfg->module, endpoint, after, include_failed ? "t" : "f" };
	PGresult *r;
	int found;

	memset(ev, 0, sizeof(*ev));
	snprintf(after, sizeof(after), "%lld", (long long)after_seq);
	r = query(s, SQL_NEXT, 4, params, err);
	if (!r)
		return -1;
	found = PQntuples(r) > 0;
	if (found) {
		ev->id = col(r, 0);
		ev->seq = col_num(r, 1);
		ev->type = col(r, 2);
		ev->occurred_at = col(r, 3);
		ev->module = col(r, 4);
		ev->version = PQgetisnull(r, 0, 5) ? 0 : col_num(r, 5);
		ev->name = col(r, 6);
		ev->file = col(r, 7);
		ev->phase = col(r, 8);
		ev->status = col(r, 9);
		ev->duration_ms = col_num(r, 10);
		ev->rows = col_num(r, 11);
		ev->error = col(r, 12);
		ev->run_id = col(r, 13);
		ev->run_host = col(r, 14);
		ev->run_user = col(r, 15);
		ev->attempts = (int)col_num(r, 16);
		ev->rows_swept = col_num(r, 17);
		ev->batches = col_num(r, 18);
	}
	PQclear(r);
	return found;
}

int outbox_record(struct pgphase_session *s, const char *endpoint, const char *event_id,
		  const struct notify_response *resp, long retry_in_ms, struct pgphase_error *err)
{
	static const char *const outcomes[] = { "delivered", "retry", "failed" };
	char status[16], retry[24];
	const char *params[6];

	snprintf(status, sizeof(status), "%ld", resp->status);
	snprintf(retry, sizeof(retry), "%ld", retry_in_ms);
	params[0] = event_id;
	params[1] = endpoint;
	params[2] = outcomes[resp->outcome];
	params[3] = status;
	params[4] = resp->error;
	params[5] = retry;
	return command(s, SQL_RECORD, 6, params, err);
}

int outbox_count(struct pgphase_session *s, const char *endpoint, size_t *pending,
		 size_t *failed, struct pgphase_error *err)
{
	const char *params[2] = { s->cfg->module, endpoint };
	PGresult *r = query(s, SQL_COUNT, 2, params, err);

	if (!r)
		return -1;
	*pending = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	*failed = (size_t)strtoull(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	return 0;
}

static char *lock_key(struct pgphase_session *s)
{
	return xasprintf("notify:%s/%s", s->cfg->state_schema, s->cfg->module);
}

int outbox_lock(struct pgphase_session *s, int64_t deadline_us, bool *got,
		struct pgphase_error *err)
{
	char *key = lock_key(s);
	const char *params[1] = { key };
	int rc = -1;

	*got = false;
	for (;;) {
		PGresult *r = db_query(s, SQL_TRY_LOCK, 1, params, PGRES_TUPLES_OK, err);

		if (!r)
			goto cleanup;
		*got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		if (*got || now_us() + 100000 >= deadline_us || pgphase_interrupted())
			break;
		backoff_sleep(100000, NULL, NULL); /* stops early on SIGINT/SIGTERM */
	}
	rc = 0;
cleanup:
	free(key);
	return rc;
}

int outbox_unlock(struct pgphase_session *s, struct pgphase_error *err)
{
	char *key = lock_key(s);
	const char *params[1] = { key };
	PGresult *r = db_query(s, SQL_UNLOCK, 1, params, PGRES_TUPLES_OK, err);

	free(key);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}
