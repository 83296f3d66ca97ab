/*
 * Private side of the notifier, split by job:
 *   notify_config.c   validation of the webhook config, URL masking, secrets
 *   notify_payload.c  the request body (JSON or Slack text) and its HMAC signature
 *   notify_http.c     one POST with libcurl: timeouts, no redirects, bounded response
 *   notify_outbox.c   the outbox tables: queueing, reading the next event, recording
 *   notify_deliver.c  the delivery pass: scheduling, backoff, the total time bound
 */
#ifndef PGPHASE_NOTIFY_PRIV_H
#define PGPHASE_NOTIFY_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "pgphase/notify.h"

/* ---- notify_config.c ----------------------------------------------------------------- */

/* The endpoint's secret (from secret or the secret_env variable), or NULL when none. */
const char *notify_secret(const struct pgphase_webhook_config *w);
/* Does endpoint w want events of this type? */
bool notify_wants(const struct pgphase_webhook_config *w, const char *type);
/* The types w wants, as a JSON array text (malloc'd), for the queueing query. */
char *notify_wanted_json(const struct pgphase_webhook_config *w);
/* The password of url's userinfo (malloc'd), or NULL. */
char *notify_url_password(const char *url);

/* ---- notify_payload.c ---------------------------------------------------------------- */

/* One event row of the outbox, as read for delivery (strings owned, NULL for SQL NULL). */
struct notify_event {
	char *id, *type, *occurred_at, *module, *name, *file, *phase, *status, *error;
	char *run_id, *run_host, *run_user;
	int64_t seq;
	int64_t version;     /* 0 when the event has none */
	long long duration_ms; /* -1 for none */
	long long rows;      /* -1 for none */
	long long rows_swept, batches; /* -1 for none (backfill phase events only) */
	int attempts;        /* attempts already recorded for this delivery */
};
void notify_event_release(struct notify_event *ev);

/* Where the events come from, for the payload's "database" object. */
struct notify_db {
	const char *host;
	int port;
	const char *name;
};

/*
 * The request body for ev (malloc'd): DESIGN §9 JSON, or {"text": "..."} when slack is
 * true.  Deterministic: the same event gives the same bytes, so a retry is identical.
 * Every string in masks (NULL-terminated, entries may be NULL) is replaced by "*****".
 */
char *notify_body(const struct notify_event *ev, const struct notify_db *db, bool slack,
		  const char *const *masks);

/* Lowercase hex HMAC-SHA256 of data under key (65 bytes with the NUL). */
void notify_hmac_hex(const char *key, const void *data, size_t len, char out[65]);
/* "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body) (malloc'd). */
char *notify_signature(const char *secret, const char *timestamp, const char *body);

/* ---- notify_http.c ------------------------------------------------------------------- */

enum notify_outcome {
	NOTIFY_DELIVERED, /* 2xx */
	NOTIFY_RETRY,     /* 408, 429, 5xx, network error, timeout */
	NOTIFY_FAILED,    /* other 4xx, 3xx (redirects are not followed), bad URL */
};

struct notify_response {
	enum notify_outcome outcome;
	long status;         /* HTTP status, 0 when no answer was read */
	char *error;         /* what went wrong (malloc'd, masked), NULL when delivered */
	long retry_after_ms; /* from a Retry-After header, 0 when none */
};

struct notify_request {
	const struct pgphase_webhook_config *w;
	const char *event_type;
	const char *delivery_id;
	const char *body;
	const char *secret;      /* NULL: no signature header */
	long timeout_ms;         /* whole request, connect included */
	const char *const *masks; /* strings to mask in error text */
};

/* POST one request.  Never fails: the outcome says what happened. */
void notify_http_post(const struct notify_request *rq, struct notify_response *resp);
void notify_response_release(struct notify_response *resp);

/* ---- notify_outbox.c ----------------------------------------------------------------- */

/* Queue deliveries of new events for endpoint (masked URL) of webhook w. */
int outbox_queue(struct pgphase_session *s, const struct pgphase_webhook_config *w,
		 const char *endpoint, struct pgphase_error *err);
/*
 * The oldest undelivered event for endpoint with a seq above after_seq, skipping permanent
 * failures unless include_failed.  1 found (ev filled), 0 none, -1 error.
 */
int outbox_next(struct pgphase_session *s, const char *endpoint, int64_t after_seq,
		bool include_failed, struct notify_event *ev, struct pgphase_error *err);
/* Record one attempt's outcome; retry_in_ms is when the next attempt is due (retries). */
int outbox_record(struct pgphase_session *s, const char *endpoint, const char *event_id,
		  const struct notify_response *resp, long retry_in_ms, struct pgphase_error *err);
/* Count undelivered (pending) and permanently failed deliveries of endpoint. */
int outbox_count(struct pgphase_session *s, const char *endpoint, size_t *pending,
		 size_t *failed, struct pgphase_error *err);
/* The per-module notify lock, so two passes never send the same delivery twice. */
int outbox_lock(struct pgphase_session *s, int64_t deadline_us, bool *got,
		struct pgphase_error *err);
int outbox_unlock(struct pgphase_session *s, struct pgphase_error *err);

#endif
