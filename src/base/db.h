/*
 * The one choke point for SQL (STYLE: libpq).  Echoes SQL with --verbose, checks exactly
 * the expected result status, reports "query failed: <server message>" with the SQL as
 * detail, and remembers the SQLSTATE so callers can handle expected races by name.
 */
#ifndef PGPHASE_DB_H
#define PGPHASE_DB_H

#include <libpq-fe.h>

#include "pgphase/session.h"

#define SQLSTATE_LOCK_NOT_AVAILABLE "55P03"
#define SQLSTATE_QUERY_CANCELED "57014"
#define SQLSTATE_DEADLOCK "40P01"
#define SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"
#define SQLSTATE_UNDEFINED_TABLE "42P01"
#define SQLSTATE_INVALID_SCHEMA "3F000"
#define SQLSTATE_UNIQUE_VIOLATION "23505"

/*
 * Run sql with text parameters (PQexecParams; nparams may be 0).  Returns the result (the
 * caller PQclear()s it) when its status is expect, else NULL with err set (exit code 1).
 */
PGresult *db_query(struct pgphase_session *s, const char *sql, int nparams,
		   const char *const *params, ExecStatusType expect, struct pgphase_error *err);
/* Run one or more statements without parameters or results (PQexec). */
int db_exec(struct pgphase_session *s, const char *sql, struct pgphase_error *err);
/* Like db_query but for a command: clears the result.  0 / -1. */
int db_command(struct pgphase_session *s, const char *sql, int nparams,
	       const char *const *params, struct pgphase_error *err);

/*
 * One statement of a pipeline: a prepared statement when name is set (sql is then only for
 * messages), else sql with text parameters.  expect is its one acceptable status.
 */
struct db_step {
	const char *name, *sql;
	int nparams;
	const char *const *params;
	ExecStatusType expect;
};

/*
 * Send n statements in one round trip (libpq pipeline mode) and read every result.  Each
 * step's result is stored in results[i] (NULL for a step that did not run); the caller
 * PQclear()s them.  Returns 0, or -1 with err and the SQLSTATE of the first failure: the
 * server skipped the steps after it, and a transaction it was in is left aborted.
 */
int db_pipeline(struct pgphase_session *s, int n, const struct db_step *steps,
		PGresult **results, struct pgphase_error *err);

/* Prepare sql under name on this connection (PQprepare).  0 / -1. */
int db_prepare(struct pgphase_session *s, const char *name, const char *sql,
	       struct pgphase_error *err);

/* Quote an identifier with PQescapeIdentifier (malloc'd copy). */
char *db_ident(struct pgphase_session *s, const char *ident);

/* Did the last failed query fail with this SQLSTATE? */
int db_failed_with(const struct pgphase_session *s, const char *sqlstate);

/* ROLLBACK, ignoring errors (used on the failure path). */
void db_rollback(struct pgphase_session *s);

/*
 * The user's own connection options (src/base/connopts.c): the `options` of the connection
 * string conninfo (NULL or a plain database name: none), else libpq's default for it (a
 * service file's, else $PGOPTIONS).  Malloc'd, or NULL when there are none.
 */
char *db_user_options(const char *conninfo);
/*
 * The `options` pgphase connects with: user's options (NULL: none) followed by pgphase's
 * lock_timeout and statement_timeout, which therefore win; a warning says so when the user's
 * options set them too.  Malloc'd.
 */
char *db_merge_options(const char *user, long lock_timeout_ms, long statement_timeout_ms);

/* Key of the run lock: pg_*advisory_lock(PGPHASE_LOCK_CLASS, hashtext(schema || '/' || module)). */
#define PGPHASE_LOCK_CLASS "1885827176" /* 'pgph' */

#endif
