/*
 * Connection handling and the SQL choke point.  The session's cancel handle is registered
 * with src/base/interrupt.c, so SIGINT/SIGTERM cancel the running statement on the server
 * and the command records its state before exiting.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base/db.h"
#include "base/interrupt.h"
#include "pgphase/log.h"
#include "base/util.h"

static void on_notice(void *arg, const char *message)
{
	size_t n = strlen(message);

	(void)arg;
	if (n && message[n - 1] == '\n')
		n--;
	pgphase_verbose("server: %.*s", (int)n, message);
}

static void uuid_v4(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(rand() & 0xff);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

/* First line of a libpq error message, without "connection to server ... failed: " noise. */
static char *first_line(const char *msg)
{
	const char *nl = strchr(msg, '\n');

	return xstrndup(msg, nl ? (size_t)(nl - msg) : strlen(msg));
}

int pgphase_session_open(struct pgphase_session *s, const struct pgphase_config *cfg,
			 const char *command, struct pgphase_error *err)
{
	const char *keys[4], *vals[4];
	char *appname, *options = NULL, *user_options, hostbuf[256];
	int n = 0;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->command = xstrdup(command);
	s->display = pgphase_conninfo_display(cfg->database ? cfg->database : "");
	appname = xasprintf("pgphase %s", command);
	keys[n] = "dbname";
	vals[n++] = cfg->database ? cfg->database : "";
	keys[n] = "fallback_application_name";
	vals[n++] = appname;
	/* session settings as connection options, never a bare SET (STYLE: libpq), merged
	 * with the user's own options, which an explicit `options` would otherwise hide */
	user_options = db_user_options(cfg->database);
	options = db_merge_options(user_options, cfg->lock_timeout_ms, cfg->statement_timeout_ms);
	free(user_options);
	keys[n] = "options";
	vals[n++] = options;
	keys[n] = NULL;
	vals[n] = NULL;
	s->conn = PQconnectdbParams(keys, vals, 1);
	free(appname);
	free(options);
	if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
		char *line = first_line(s->conn ? PQerrorMessage(s->conn) : "out of memory");
		char *pw = pgphase_conninfo_password(cfg->database);
		char *half = pgphase_mask_secret(line, pw);
		char *masked = pgphase_mask_secret(half, s->conn ? PQpass(s->conn) : NULL);

		free(pw);
		free(half);

		pgphase_error_set(err, PGPHASE_EXIT_CONNECT, "cannot connect to %s: %s", s->display,
				  masked);
		free(line);
		free(masked);
		pgphase_session_close(s);
		return -1;
	}
	free(s->display);
	s->display = xasprintf("postgresql://%s@%s:%s/%s", PQuser(s->conn),
			       PQhost(s->conn)[0] == '/' ? "localhost" : PQhost(s->conn),
			       PQport(s->conn), PQdb(s->conn));
	PQsetNoticeProcessor(s->conn, on_notice, NULL);
	{
		PGcancel *old = interrupt_set_cancel(PQgetCancel(s->conn));

		if (old)
			PQfreeCancel(old);
	}
	uuid_v4(s->run_id);
	s->run_user = xstrdup(PQuser(s->conn));
	if (gethostname(hostbuf, sizeof(hostbuf)) < 0)
		strcpy(hostbuf, "unknown");
	hostbuf[sizeof(hostbuf) - 1] = '\0';
	s->run_host = xstrdup(hostbuf);
	s->schema_q = db_ident(s, cfg->state_schema);
	return 0;
}

void pgphase_session_close(struct pgphase_session *s)
{
	if (s->conn) {
		PGcancel *c = interrupt_set_cancel(NULL);

		if (c)
			PQfreeCancel(c);
		PQfinish(s->conn);
	}
	free(s->display);
	free(s->command);
	free(s->schema_q);
	free(s->run_host);
	free(s->run_user);
	free(s->errmsg);
	memset(s, 0, sizeof(*s));
}

static void fail(struct pgphase_session *s, const PGresult *r, const char *sql,
		 struct pgphase_error *err)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char *msg = first_line(primary ? primary : PQerrorMessage(s->conn));

	const char *pos = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;

	snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", state ? state : "");
	free(s->errmsg);
	s->errmsg = xstrdup(msg);
	s->errpos = pos ? atoi(pos) : 0;
	if (pgphase_interrupted() && strcmp(s->sqlstate, SQLSTATE_QUERY_CANCELED) == 0)
		pgphase_error_set(err, PGPHASE_EXIT_FAILED, "interrupted: %s", msg);
	else if (PQstatus(s->conn) == CONNECTION_BAD)
		pgphase_error_set(err, PGPHASE_EXIT_FAILED, "connection lost: %s", msg);
	else
		pgphase_error_set(err, PGPHASE_EXIT_FAILED, "query failed: %s", msg);
	pgphase_error_detail(err, "SQL: %s", sql);
	free(msg);
}

PGresult *db_query(struct pgphase_session *s, const char *sql, int nparams,
		   const char *const *params, ExecStatusType expect, struct pgphase_error *err)
{
	PGresult *r;

	pgphase_verbose("sql: %s", sql);
	s->sqlstate[0] = '\0';
	if (nparams > 0)
		r = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	else
		r = PQexec(s->conn, sql);
	if (r && PQresultStatus(r) == expect)
		return r;
	fail(s, r, sql, err);
	PQclear(r);
	return NULL;
}

int db_exec(struct pgphase_session *s, const char *sql, struct pgphase_error *err)
{
	PGresult *r;
	ExecStatusType st;

	pgphase_verbose("sql: %s", sql);
	s->sqlstate[0] = '\0';
	r = PQexec(s->conn, sql);
	st = PQresultStatus(r);
	/* a migration's SELECT (e.g. SELECT pg_sleep(1), SELECT setval(...)) returns rows:
	 * they are not needed, only success */
	if (r && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY)) {
		PQclear(r);
		return 0;
	}
	if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
		/* COPY ... FROM STDIN / TO STDOUT has no data source here: end it cleanly */
		PQclear(r);
		if (st == PGRES_COPY_IN)
			PQputCopyEnd(s->conn, "COPY FROM STDIN is not supported in migrations");
		while ((r = PQgetResult(s->conn)) != NULL)
			PQclear(r);
		return pgphase_error_set(err, PGPHASE_EXIT_FAILED,
					 "COPY FROM STDIN / TO STDOUT cannot run in a migration");
	}
	fail(s, r, sql, err);
	PQclear(r);
	return -1;
}

int db_command(struct pgphase_session *s, const char *sql, int nparams,
	       const char *const *params, struct pgphase_error *err)
{
	PGresult *r = db_query(s, sql, nparams, params, PGRES_COMMAND_OK, err);

	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

static int send_step(PGconn *c, const struct db_step *st)
{
	if (st->name)
		return PQsendQueryPrepared(c, st->name, st->nparams, st->params, NULL, NULL, 0);
	return PQsendQueryParams(c, st->sql, st->nparams, NULL, st->params, NULL, NULL, 0);
}

int db_pipeline(struct pgphase_session *s, int n, const struct db_step *steps,
		PGresult **results, struct pgphase_error *err)
{
	int i, rc = 0;
	bool sent = true;

	s->sqlstate[0] = '\0';
	for (i = 0; i < n; i++)
		results[i] = NULL;
	if (!PQenterPipelineMode(s->conn)) {
		fail(s, NULL, steps[0].sql, err);
		return -1;
	}
	for (i = 0; i < n && sent; i++) {
		pgphase_verbose("sql: %s", steps[i].sql);
		sent = send_step(s->conn, &steps[i]) == 1;
	}
	if (!sent || !PQpipelineSync(s->conn)) {
		/* the connection is unusable: nothing more comes back */
		fail(s, NULL, steps[i - 1].sql, err);
		PQexitPipelineMode(s->conn);
		return -1;
	}
	for (i = 0; i < n; i++) {
		PGresult *r;

		/* each step's results end with NULL; a failed step's error, then aborted ones */
		while ((r = PQgetResult(s->conn)) != NULL) {
			ExecStatusType st = PQresultStatus(r);

			if (rc == 0 && st != steps[i].expect && st != PGRES_PIPELINE_ABORTED) {
				fail(s, r, steps[i].sql, err);
				rc = -1;
			}
			if (st == steps[i].expect && !results[i])
				results[i] = r;
			else
				PQclear(r);
		}
		if (PQstatus(s->conn) != CONNECTION_OK)
			break;
	}
	/* the sync's own result, then leave pipeline mode */
	for (PGresult *r; PQstatus(s->conn) == CONNECTION_OK && (r = PQgetResult(s->conn)) != NULL;) {
		ExecStatusType st = PQresultStatus(r);

		PQclear(r);
		if (st == PGRES_PIPELINE_SYNC)
			break;
	}
	PQexitPipelineMode(s->conn);
	if (rc == 0 && PQstatus(s->conn) != CONNECTION_OK) {
		fail(s, NULL, steps[n - 1].sql, err);
		rc = -1;
	}
	if (rc < 0)
		for (i = 0; i < n; i++) {
			PQclear(results[i]);
			results[i] = NULL;
		}
	return rc;
}

int db_prepare(struct pgphase_session *s, const char *name, const char *sql,
	       struct pgphase_error *err)
{
	PGresult *r;

	pgphase_verbose("sql: PREPARE %s AS %s", name, sql);
	s->sqlstate[0] = '\0';
	r = PQprepare(s->conn, name, sql, 0, NULL);
	if (r && PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		return 0;
	}
	fail(s, r, sql, err);
	PQclear(r);
	return -1;
}

char *db_ident(struct pgphase_session *s, const char *ident)
{
	char *q = PQescapeIdentifier(s->conn, ident, strlen(ident));
	char *out = xstrdup(q ? q : "\"\"");

	PQfreemem(q);
	return out;
}

int db_failed_with(const struct pgphase_session *s, const char *sqlstate)
{
	return strcmp(s->sqlstate, sqlstate) == 0;
}

void db_rollback(struct pgphase_session *s)
{
	PGresult *r;

	if (PQtransactionStatus(s->conn) == PQTRANS_IDLE)
		return;
	r = PQexec(s->conn, "ROLLBACK");
	PQclear(r);
}
