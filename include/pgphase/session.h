/*
 * A pgphase session: one libpq connection to the database being migrated, the run lock, and
 * the state schema.  Every command that touches the database opens one.
 */
#ifndef PGPHASE_SESSION_H
#define PGPHASE_SESSION_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "pgphase/config.h"
#include "pgphase/error.h"

struct pgphase_session {
	PGconn *conn;
	const struct pgphase_config *cfg; /* borrowed */
	char *display;       /* connection for messages, never with a password */
	char *command;       /* e.g. "migrate"; application_name is "pgphase <command>" */
	char *schema_q;      /* quoted state schema identifier */
	char run_id[37];     /* uuid of this run */
	char *run_host;      /* this machine */
	char *run_user;      /* database user */
	bool locked;
	bool state_ready;    /* state tables exist and are current */
	char sqlstate[6];    /* SQLSTATE of the last failed query, "" otherwise */
	char *errmsg;        /* primary server message of the last failed query, or NULL */
	int errpos;          /* 1-based character position in the failed statement, 0 if none */
};

/*
 * Connect (exit code 3 on failure: unreachable, authentication, missing database).
 * application_name falls back to "pgphase <command>".  Close with pgphase_session_close().
 */
int pgphase_session_open(struct pgphase_session *s, const struct pgphase_config *cfg,
			 const char *command, struct pgphase_error *err);
void pgphase_session_close(struct pgphase_session *s);

/*
 * Take the run lock: a session advisory lock per (state schema, module).  Waits up to
 * cfg->lock_wait_ms, then fails with exit code 4 naming the holder (pid, application_name,
 * client address, since when).
 */
int pgphase_session_lock(struct pgphase_session *s, struct pgphase_error *err);

/*
 * Make sure the state schema and tables exist and are current, creating or upgrading them
 * when create is true.  With create false, s->state_ready tells whether they exist.
 */
int pgphase_state_ensure(struct pgphase_session *s, bool create, struct pgphase_error *err);

/* SIGINT/SIGTERM: set the interrupted flag and cancel the running query. */
void pgphase_install_signal_handlers(void);
bool pgphase_interrupted(void);

#endif
