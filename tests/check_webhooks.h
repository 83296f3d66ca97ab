/*
 * Helpers shared by the webhook suites (tests/check_webhooks*.c), defined in
 * tests/check_webhooks.c: a real receiver (tests/webhook_receiver.py) on 127.0.0.1 that
 * records requests and answers as scripted, and a scenario — a directory with migrations, a
 * config file and the environment holding the webhook secret — whose every command output is
 * kept, so a test can grep all of it for secrets at the end.
 */
#ifndef PGPHASE_TEST_WEBHOOKS_H
#define PGPHASE_TEST_WEBHOOKS_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "harness.h"

/* Secrets the leak checks grep for: none may appear in any output. */
#define WH_SECRET "whsec-Zq9-never-shown-7781"
#define WH_SECRET_ENV "PGPHASE_TEST_WEBHOOK_SECRET"

struct wh_receiver {
	pid_t pid;
	int port;
	char *dir;     /* log, port file and script file */
	char url[128]; /* http://127.0.0.1:PORT/hook */
};

/* Start a receiver answering per script ("200", "500,500,200", "stall", ...); port 0: any. */
void wh_receiver_start(struct wh_receiver *r, const char *script, int port);
/* Change how the receiver answers from the next request on. */
void wh_receiver_script(struct wh_receiver *r, const char *script);
/* Stop the receiver process; wh_receiver_start(r, ..., r->port) starts it again. */
void wh_receiver_stop(struct wh_receiver *r);
/* Stop it and free r (its files stay until the test's teardown). */
void wh_receiver_release(struct wh_receiver *r);
/* Every request received so far: a JSON array of {"n","t","headers","body","action"}. */
json_t *wh_requests(const struct wh_receiver *r);
/* Body of request i parsed as JSON (new reference). */
json_t *wh_body(json_t *requests, size_t i);
/* Header of request i, or NULL. */
const char *wh_header(json_t *requests, size_t i, const char *name);

struct wh_scenario {
	char *dir;       /* root: pgphase.cfg and migrations/ */
	char cfg[600];
	char mig[600];
	char *transcript; /* every stdout and stderr of wh_run, concatenated */
	size_t len;
	double last_seconds; /* wall time of the last wh_run */
	const char *conninfo; /* database to use (default th_conninfo()) */
};

/* A scenario with one plain migration (001) and a webhooks block (libconfig text). */
void wh_scenario_init(struct wh_scenario *sc, const char *webhooks);
/* Replace the webhooks block. */
void wh_scenario_config(struct wh_scenario *sc, const char *webhooks);
/* Run pgphase -c CFG -d DB -m MIG ARGS... with the secret in the environment. */
void wh_run(struct wh_scenario *sc, struct th_run *run, ...) __attribute__((sentinel));
/* Add text to the transcript (receiver logs, history, table dumps). */
void wh_keep(struct wh_scenario *sc, const char *text);
/* Fail when the transcript contains the webhook secret or any of the extra strings. */
void wh_assert_no_leak(const struct wh_scenario *sc, const char *const *extra);
void wh_scenario_release(struct wh_scenario *sc);

/* `{ url = "URL"; secret_env = "..."; EXTRA }` for one webhooks entry (static buffer ring). */
const char *wh_hook(const char *url, const char *extra);

/* Events as the database holds them: "type/phase/version" per line, in seq order. */
char *wh_db_events(void);

#endif
