/*
 * Webhook configuration beyond syntax: the config reader (config.c) checks keys and types;
 * this file checks what the values mean — a parseable http(s) URL, known event names, a
 * secret that is really there — so a bad webhook stops the command with exit 2 before any
 * migration runs, instead of failing silently at delivery time.  It also masks URLs for
 * display and resolves secrets.  URLs are parsed with libcurl's URL API, the same parser
 * that later sends the request, so what is accepted here is what curl will use.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "notify/notify.h"
#include "base/util.h"

/* Event types in the order DESIGN §9 lists them; the last one is opt-in. */
static const char *const EVENT_TYPES[] = {
	"phase.completed", "phase.failed", "migration.completed", "rollback.completed",
	"backfill.progress", NULL,
};
#define OPT_IN_TYPE "backfill.progress"

bool pgphase_notify_event_known(const char *type)
{
	for (size_t i = 0; EVENT_TYPES[i]; i++)
		if (strcmp(EVENT_TYPES[i], type) == 0)
			return true;
	return false;
}

bool notify_wants(const struct pgphase_webhook_config *w, const char *type)
{
	if (!w->events)
		return strcmp(type, OPT_IN_TYPE) != 0;
	for (size_t i = 0; i < w->n_events; i++)
		if (strcmp(w->events[i], type) == 0)
			return true;
	return false;
}

char *notify_wanted_json(const struct pgphase_webhook_config *w)
{
	json_t *arr = json_array();
	char *out;

	for (size_t i = 0; EVENT_TYPES[i]; i++)
		if (notify_wants(w, EVENT_TYPES[i]))
			json_array_append_new(arr, json_string(EVENT_TYPES[i]));
	out = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return out;
}

const char *notify_secret(const struct pgphase_webhook_config *w)
{
	const char *v;

	if (w->secret && *w->secret)
		return w->secret;
	if (!w->secret_env)
		return NULL;
	v = getenv(w->secret_env);
	return v && *v ? v : NULL;
}

/* Parse url with libcurl; NULL and *rc on failure.  Any scheme is parsed (checked later). */
static CURLU *parse_url(const char *url, CURLUcode *rc)
{
	CURLU *h = curl_url();

	if (!h) {
		*rc = CURLUE_OUT_OF_MEMORY;
		return NULL;
	}
	*rc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (*rc != CURLUE_OK) {
		curl_url_cleanup(h);
		return NULL;
	}
	return h;
}

static char *url_part(CURLU *h, CURLUPart what)
{
	char *v = NULL, *out = NULL;

	if (curl_url_get(h, what, &v, 0) == CURLUE_OK && v && *v)
		out = xstrdup(v);
	curl_free(v);
	return out;
}

char *pgphase_notify_url_display(const char *url)
{
	CURLUcode rc;
	CURLU *h = parse_url(url, &rc);
	char *scheme, *user, *host, *port, *path, *query, *out;

	if (!h)
		return xstrdup("(invalid url)");
	scheme = url_part(h, CURLUPART_SCHEME);
	user = url_part(h, CURLUPART_USER);
	host = url_part(h, CURLUPART_HOST);
	port = url_part(h, CURLUPART_PORT);
	path = url_part(h, CURLUPART_PATH);
	query = url_part(h, CURLUPART_QUERY);
	out = xasprintf("%s://%s%s%s%s%s%s", scheme ? scheme : "", user ? "***@" : "",
			host ? host : "", port ? ":" : "", port ? port : "", path ? path : "/",
			query ? "?***" : "");
	free(scheme);
	free(user);
	free(host);
	free(port);
	free(path);
	free(query);
	curl_url_cleanup(h);
	return out;
}

char *notify_url_password(const char *url)
{
	CURLUcode rc;
	CURLU *h = parse_url(url, &rc);
	char *pw;

	if (!h)
		return NULL;
	pw = url_part(h, CURLUPART_PASSWORD);
	curl_url_cleanup(h);
	return pw;
}

/* A config error at the webhook's line in the config file (exit 2).  Returns -1. */
static int bad(const struct pgphase_config *cfg, const struct pgphase_webhook_config *w,
	       struct pgphase_error *err, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int bad(const struct pgphase_config *cfg, const struct pgphase_webhook_config *w,
	       struct pgphase_error *err, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	pgphase_error_at(err, PGPHASE_EXIT_USAGE, "config", cfg->path ? cfg->path : "(config)",
			 w->line, 0, "%s", msg);
	free(msg);
	return -1;
}

/* URL: parseable, http or https, with a host.  The URL itself is never echoed (userinfo). */
static int check_url(const struct pgphase_config *cfg, const struct pgphase_webhook_config *w,
		     struct pgphase_error *err)
{
	CURLUcode rc;
	CURLU *h = parse_url(w->url, &rc);
	char *scheme = NULL, *host = NULL;
	int ret = -1;

	if (!h) {
		bad(cfg, w, err, "webhook url is malformed: %s", curl_url_strerror(rc));
		pgphase_error_hint(err, "write it as http://host[:port]/path or https://host/path");
		goto cleanup;
	}
	scheme = url_part(h, CURLUPART_SCHEME);
	if (!scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		bad(cfg, w, err, "webhook url has scheme \"%s\": only http and https are allowed",
		    scheme ? scheme : "");
		goto cleanup;
	}
	host = url_part(h, CURLUPART_HOST);
	if (!host) {
		bad(cfg, w, err, "webhook url has no host");
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(scheme);
	free(host);
	if (h)
		curl_url_cleanup(h);
	return ret;
}

static int check_webhook(const struct pgphase_config *cfg, const struct pgphase_webhook_config *w,
			 bool need_secrets, struct pgphase_error *err)
{
	if (check_url(cfg, w, err) < 0)
		return -1;
	if (w->events && w->n_events == 0)
		return bad(cfg, w, err, "webhook \"events\" is empty: list event types or remove "
					"the key to receive all");
	for (size_t i = 0; i < w->n_events; i++)
		if (!pgphase_notify_event_known(w->events[i])) {
			bad(cfg, w, err, "unknown webhook event \"%s\"", w->events[i]);
			pgphase_error_hint(err, "known events: phase.completed, phase.failed, "
						"migration.completed, rollback.completed, backfill.progress");
			return -1;
		}
	if (w->timeout_ms <= 0)
		return bad(cfg, w, err, "webhook \"timeout\" must be positive");
	if (w->secret && w->secret_env)
		return bad(cfg, w, err, "webhook has both \"secret\" and \"secret_env\": keep one");
	if (need_secrets && w->secret_env && !notify_secret(w)) {
		bad(cfg, w, err, "webhook secret_env names \"%s\", which is not set", w->secret_env);
		pgphase_error_hint(err, "export %s, or remove secret_env to send unsigned requests",
				   w->secret_env);
		return -1;
	}
	return 0;
}

int pgphase_notify_check_config(const struct pgphase_config *cfg, bool need_secrets,
				struct pgphase_error *err)
{
	int rc = -1;
	char **shown = xcalloc(cfg->n_webhooks + 1, sizeof(char *));

	for (size_t i = 0; i < cfg->n_webhooks; i++) {
		const struct pgphase_webhook_config *w = &cfg->webhooks[i];

		if (check_webhook(cfg, w, need_secrets, err) < 0)
			goto cleanup;
		/* the masked URL keys the outbox: two endpoints must not share one */
		shown[i] = pgphase_notify_url_display(w->url);
		for (size_t j = 0; j < i; j++)
			if (strcmp(shown[i], shown[j]) == 0) {
				bad(cfg, w, err, "webhook url %s is also used by the webhook on line %d",
				    shown[i], cfg->webhooks[j].line);
				goto cleanup;
			}
	}
	rc = 0;
cleanup:
	for (size_t i = 0; i < cfg->n_webhooks; i++)
		free(shown[i]);
	free(shown);
	return rc;
}
