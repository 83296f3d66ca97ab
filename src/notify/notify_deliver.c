/*
 * The delivery pass: queue new events for every configured endpoint, then send what each
 * endpoint is owed, oldest first, until everything is delivered, the endpoint's attempts for
 * this pass are spent, or the pass's time budget is.  Endpoints take turns by due time, so a
 * stalling endpoint delays but never starves another, and every request's timeout is cut to
 * what is left of the budget: a pass never runs longer than its budget (plus the database
 * round trips).  An endpoint's queue is strictly ordered: while its oldest event waits for a
 * retry, newer ones wait behind it, so a receiver sees each migration's events in order.
 *
 * Backoff between retries of one delivery is exponential with equal jitter (half fixed, half
 * random) from 0.5 s, capped at 30 s; a Retry-After header lengthens it.  A pass never fails
 * because of HTTP: undelivered events stay in the outbox for the next pass.
 */
#include <stdlib.h>
#include <string.h>

#include "base/backoff.h"
#include "base/db.h"
#include "notify/notify.h"
#include "pgphase/log.h"
#include "base/util.h"

#define MIN_ATTEMPT_MS 50L /* below this much budget, no request is started */
#define LOCK_WAIT_MS 2000L /* wait for another pass's notify lock; then leave it the work */

/* Between retries of one delivery: 0.5 s, 1 s, ... at most 30 s, equal jitter. */
static const struct pgphase_backoff delivery_backoff = { 500000, 30 * 1000000LL, true };

struct endpoint_run {
	const struct pgphase_webhook_config *w;
	struct pgphase_notify_endpoint_report *rep;
	const char *secret;
	char *url_password;
	const char *masks[4]; /* secret, URL password, database password, NULL */
	int tries;            /* failed attempts of the current event in this pass */
	int64_t after_seq;    /* events up to here reached an outcome in this pass */
	bool retry_failed;
	int64_t due_us;
	bool done;
	char *last_error;
};

/* The "database" object of the payload: where the events were read from. */
static void db_info(struct pgphase_session *s, struct notify_db *db)
{
	const char *host = PQhost(s->conn), *port = PQport(s->conn);

	db->host = !host || !*host || host[0] == '/' ? "localhost" : host;
	db->port = port ? atoi(port) : 0;
	db->name = PQdb(s->conn);
}

/* One attempt at the oldest event ep is owed; marks ep done when it is owed nothing. */
static int attempt(struct pgphase_session *s, struct endpoint_run *ep, const struct notify_db *db,
		   int64_t deadline_us, struct pgphase_error *err)
{
	struct notify_event ev;
	struct notify_response resp = { 0 };
	struct notify_request rq;
	long left_ms = (long)((deadline_us - now_us()) / 1000), wait_ms = 0;
	char *body = NULL;
	int found, rc = -1;

	found = outbox_next(s, ep->rep->endpoint, ep->after_seq, ep->retry_failed, &ev, err);
	if (found <= 0) {
		ep->done = true;
		return found;
	}
	body = notify_body(&ev, db, strcmp(ep->w->format, "slack") == 0, ep->masks);
	rq = (struct notify_request){ ep->w, ev.type, ev.id, body, ep->secret,
				      ep->w->timeout_ms < left_ms ? ep->w->timeout_ms : left_ms,
				      ep->masks };
	notify_http_post(&rq, &resp);
	ep->rep->attempts++;
	switch (resp.outcome) {
	case NOTIFY_DELIVERED:
		ep->rep->delivered++;
		ep->tries = 0;
		ep->after_seq = ev.seq;
		ep->due_us = now_us(); /* back in line behind endpoints that waited longer */
		pgphase_verbose("webhook %s: delivered %s %s (HTTP %ld)", ep->rep->endpoint, ev.type,
				ev.id, resp.status);
		break;
	case NOTIFY_FAILED:
		ep->tries = 0;
		ep->after_seq = ev.seq;
		ep->due_us = now_us();
		pgphase_warn("webhook %s: %s %s failed permanently: %s", ep->rep->endpoint, ev.type,
			     ev.id, resp.error);
		break;
	case NOTIFY_RETRY:
		ep->tries++;
		wait_ms = (long)(backoff_delay(&delivery_backoff, ep->tries - 1) / 1000);
		if (resp.retry_after_ms > wait_ms)
			wait_ms = resp.retry_after_ms;
		ep->due_us = now_us() + (int64_t)wait_ms * 1000;
		if (ep->tries >= ep->w->max_attempts)
			ep->done = true;
		pgphase_verbose("webhook %s: %s %s attempt %d failed: %s", ep->rep->endpoint, ev.type,
				ev.id, ev.attempts + 1, resp.error);
		free(ep->last_error);
		ep->last_error = xstrdup(resp.error);
		break;
	}
	if (outbox_record(s, ep->rep->endpoint, ev.id, &resp, wait_ms, err) < 0)
		goto cleanup;
	rc = 0;
cleanup:
	free(body);
	notify_response_release(&resp);
	notify_event_release(&ev);
	return rc;
}

/* Endpoints take turns by due time until all are done or the budget is spent. */
static int run_schedule(struct pgphase_session *s, struct endpoint_run *eps, size_t n,
			int64_t deadline_us, struct pgphase_error *err)
{
	struct notify_db db;

	db_info(s, &db);
	for (;;) {
		struct endpoint_run *ep = NULL;
		int64_t now;

		for (size_t i = 0; i < n; i++)
			if (!eps[i].done && (!ep || eps[i].due_us < ep->due_us))
				ep = &eps[i];
		if (!ep || pgphase_interrupted())
			return 0;
		now = now_us();
		if (ep->due_us > now) {
			if (ep->due_us >= deadline_us)
				return 0; /* nothing more fits in the budget */
			backoff_sleep(ep->due_us - now, NULL, NULL);
			continue;
		}
		if (deadline_us - now < MIN_ATTEMPT_MS * 1000)
			return 0;
		if (attempt(s, ep, &db, deadline_us, err) < 0)
			return -1;
	}
}

static void endpoints_init(struct pgphase_session *s, struct endpoint_run *eps,
			   const struct pgphase_notify_options *o, struct pgphase_notify_report *rep)
{
	const char *dbpass = PQpass(s->conn);

	for (size_t i = 0; i < rep->n; i++) {
		struct endpoint_run *ep = &eps[i];
		size_t m = 0;

		ep->w = &s->cfg->webhooks[i];
		ep->rep = &rep->endpoints[i];
		ep->secret = notify_secret(ep->w);
		ep->url_password = notify_url_password(ep->w->url);
		ep->due_us = now_us();
		ep->retry_failed = o->retry_failed;
		if (ep->secret)
			ep->masks[m++] = ep->secret;
		if (ep->url_password)
			ep->masks[m++] = ep->url_password;
		if (dbpass && *dbpass)
			ep->masks[m++] = dbpass;
		ep->masks[m] = NULL;
		if (ep->w->insecure)
			pgphase_warn("webhook %s: TLS certificate verification is off (insecure = true)",
				     ep->rep->endpoint);
	}
}

int pgphase_notify_deliver(struct pgphase_session *s, const struct pgphase_notify_options *o,
			   struct pgphase_notify_report *rep, struct pgphase_error *err)
{
	const struct pgphase_config *cfg = s->cfg;
	int64_t deadline_us = now_us() + (int64_t)o->budget_ms * 1000, lock_until;
	struct endpoint_run *eps = NULL;
	bool locked = false;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	if (cfg->n_webhooks == 0)
		return 0;
	rep->n = cfg->n_webhooks;
	rep->endpoints = xcalloc(rep->n, sizeof(*rep->endpoints));
	for (size_t i = 0; i < rep->n; i++)
		rep->endpoints[i].endpoint = pgphase_notify_url_display(cfg->webhooks[i].url);
	eps = xcalloc(rep->n, sizeof(*eps));
	endpoints_init(s, eps, o, rep);
	if (pgphase_state_ensure(s, false, err) < 0)
		goto cleanup;
	if (!s->state_ready) {
		rc = 0; /* no state schema yet: no events either */
		goto cleanup;
	}
	lock_until = now_us() + LOCK_WAIT_MS * 1000;
	if (outbox_lock(s, lock_until < deadline_us ? lock_until : deadline_us, &locked, err) < 0)
		goto cleanup;
	if (!locked) {
		pgphase_warn("another pgphase process is delivering webhooks for module \"%s\"; "
			     "not delivering now", cfg->module);
		rep->skipped = true;
	} else {
		for (size_t i = 0; i < rep->n; i++)
			if (outbox_queue(s, eps[i].w, rep->endpoints[i].endpoint, err) < 0)
				goto cleanup;
		if (run_schedule(s, eps, rep->n, deadline_us, err) < 0)
			goto cleanup;
	}
	for (size_t i = 0; i < rep->n; i++) {
		struct pgphase_notify_endpoint_report *e = &rep->endpoints[i];

		if (outbox_count(s, e->endpoint, &e->pending, &e->failed, err) < 0)
			goto cleanup;
		rep->delivered += e->delivered;
		rep->failed += e->failed;
		rep->pending += e->pending;
		if (e->pending)
			pgphase_warn("webhook %s: %zu event%s not delivered yet%s%s", e->endpoint,
				     e->pending, e->pending == 1 ? "" : "s",
				     eps[i].last_error ? ": " : "",
				     eps[i].last_error ? eps[i].last_error : "");
	}
	rc = 0;
cleanup:
	if (locked) {
		struct pgphase_error e2 = PGPHASE_ERROR_INIT;

		if (PQstatus(s->conn) == CONNECTION_OK && outbox_unlock(s, &e2) < 0)
			pgphase_verbose("could not release the notify lock: %s", e2.message);
		pgphase_error_release(&e2);
	}
	for (size_t i = 0; eps && i < rep->n; i++) {
		free(eps[i].url_password);
		free(eps[i].last_error);
	}
	free(eps);
	return rc;
}

void pgphase_notify_report_release(struct pgphase_notify_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		free(rep->endpoints[i].endpoint);
	free(rep->endpoints);
	memset(rep, 0, sizeof(*rep));
}

void pgphase_notify_after_run(struct pgphase_session *s)
{
	struct pgphase_notify_options o = { PGPHASE_NOTIFY_AFTER_RUN_BUDGET_MS, false };
	struct pgphase_notify_report rep;
	struct pgphase_error err = PGPHASE_ERROR_INIT;

	if (!s->conn || !s->cfg || s->cfg->n_webhooks == 0 || pgphase_interrupted())
		return;
	if (PQstatus(s->conn) != CONNECTION_OK || PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
		pgphase_warn("webhooks not sent: the database connection is not usable; the events "
			     "stay in the outbox, run \"pgphase notify\" later");
		return;
	}
	if (pgphase_notify_deliver(s, &o, &rep, &err) < 0) {
		pgphase_warn("webhooks not sent: %s; the events stay in the outbox, run "
			     "\"pgphase notify\" later", err.message);
	} else {
		for (size_t i = 0; i < rep.n; i++)
			if (rep.endpoints[i].delivered)
				pgphase_info("webhook %s: delivered %zu event%s", rep.endpoints[i].endpoint,
					     rep.endpoints[i].delivered,
					     rep.endpoints[i].delivered == 1 ? "" : "s");
		if (rep.pending)
			pgphase_warn("%zu webhook deliver%s pending; run \"pgphase notify\" to retry",
				     rep.pending, rep.pending == 1 ? "y is" : "ies are");
		if (rep.failed)
			pgphase_warn("%zu webhook deliver%s failed; fix the receiver, then run "
				     "\"pgphase notify\" to send %s again", rep.failed,
				     rep.failed == 1 ? "y" : "ies", rep.failed == 1 ? "it" : "them");
	}
	pgphase_notify_report_release(&rep);
	pgphase_error_release(&err);
}
