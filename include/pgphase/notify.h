/*
 * Webhook notifications (DESIGN §9) with a durable outbox.
 *
 * The event rows that the executor writes in the same transaction as each finished phase
 * are the outbox.  After a command that changed the database, pgphase_notify_after_run()
 * turns new events into one delivery row per (event, endpoint) — filtered by the endpoint's
 * `events` list — and POSTs them, signed, oldest first, within a bounded total time.  A
 * dead, slow or failing endpoint never fails the command: what was not delivered stays in
 * the outbox and `pgphase notify` (pgphase_notify_deliver) delivers it later.  A retry
 * carries the same X-Pgphase-Delivery id (the event id) and the same body.
 *
 * Secrets (the webhook secret, a password in the webhook URL, the database password) never
 * appear in payloads, logs, errors or the state tables; URLs are shown masked.
 */
#ifndef PGPHASE_NOTIFY_H
#define PGPHASE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

#include "pgphase/config.h"
#include "pgphase/error.h"
#include "pgphase/session.h"

/*
 * Event types an endpoint may list in `events`.  backfill.progress is opt-in: an endpoint
 * without an `events` list receives every type except it.
 */
bool pgphase_notify_event_known(const char *type);

/*
 * Check the webhooks of cfg beyond what the config reader checks: URL syntax, http/https
 * only, known event names, positive timeout, one endpoint per URL, secret and secret_env not
 * both set and, when need_secrets is true, every secret_env variable set and non-empty.
 * Errors carry the config file's line and exit code 2.
 */
int pgphase_notify_check_config(const struct pgphase_config *cfg, bool need_secrets,
				struct pgphase_error *err);

/*
 * A URL for display and for the outbox's endpoint column: userinfo becomes "***@" and the
 * query string "?***".  Malloc'd; the caller frees it.
 */
char *pgphase_notify_url_display(const char *url);

/* Per endpoint outcome of one delivery pass. */
struct pgphase_notify_endpoint_report {
	char *endpoint;     /* masked URL (owned) */
	size_t delivered;   /* delivered in this pass */
	size_t attempts;    /* HTTP attempts in this pass */
	size_t pending;     /* after the pass: undelivered, to be retried */
	size_t failed;      /* after the pass: undelivered after a non-retryable answer */
};

struct pgphase_notify_report {
	struct pgphase_notify_endpoint_report *endpoints; /* one per configured webhook */
	size_t n;
	size_t delivered, pending, failed; /* sums */
	bool skipped;       /* nothing attempted: another process holds the notify lock */
};

struct pgphase_notify_options {
	long budget_ms;     /* bound on the whole pass, HTTP timeouts and backoff included */
	bool retry_failed;  /* also try deliveries that failed permanently before (once each) */
};

/* Budgets used by the commands. */
#define PGPHASE_NOTIFY_AFTER_RUN_BUDGET_MS 10000L
#define PGPHASE_NOTIFY_COMMAND_BUDGET_MS 60000L

/*
 * One delivery pass over the session's module: queue new events for every configured
 * endpoint, then POST pending deliveries oldest first per endpoint, each retryable failure
 * (408, 429, 5xx, network error, timeout) retried with exponential backoff and jitter up to
 * the endpoint's max_attempts within this pass; other 4xx and 3xx answers are permanent
 * failures, recorded and not retried — except by a pass with retry_failed (`pgphase notify`,
 * an operator's explicit request), which tries each of them once more.  Returns -1 only when
 * the database fails; HTTP problems are in the report.
 * Release the report with pgphase_notify_report_release().
 */
int pgphase_notify_deliver(struct pgphase_session *s, const struct pgphase_notify_options *o,
			   struct pgphase_notify_report *rep, struct pgphase_error *err);
void pgphase_notify_report_release(struct pgphase_notify_report *rep);

/*
 * Call after a command that changed the database returned, successfully or not.  Delivers
 * with PGPHASE_NOTIFY_AFTER_RUN_BUDGET_MS, never fails and never touches the command's
 * error: problems are logged as warnings and the events stay in the outbox.  Does nothing
 * without webhooks, when interrupted, or when the session is not idle.
 */
void pgphase_notify_after_run(struct pgphase_session *s);

#endif
