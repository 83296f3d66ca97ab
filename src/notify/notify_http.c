/*
 * One webhook POST with libcurl.  Everything that keeps a bad receiver from hurting a
 * migration is set here: a total time limit per request (connect included), so a receiver
 * that stalls or never closes the connection is cut off; a response sink that keeps a short
 * prefix for the error message and aborts after a small cap, so a 10 MB answer costs
 * nothing; no redirects followed (a 3xx is a permanent failure: the request never goes to a
 * host nobody configured); http and https only; TLS verified unless the endpoint says
 * insecure.  The outcome of an answer is decided by its status line alone: a receiver that
 * sent 2xx has accepted the event even if its body is then cut off.
 * Scheduling and retries are notify_deliver.c's job.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "notify/notify.h"
#include "pgphase/config.h"
#include "base/util.h"

#define RESPONSE_KEEP 200        /* bytes of the answer kept for the error message */
#define RESPONSE_CAP (64 * 1024) /* bytes read before the transfer is aborted */

struct sink {
	char kept[RESPONSE_KEEP + 1];
	size_t nkept;
	size_t total;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;
	size_t room = RESPONSE_KEEP - s->nkept;

	if (room > 0) {
		size_t take = n < room ? n : room;

		memcpy(s->kept + s->nkept, data, take);
		s->nkept += take;
		s->kept[s->nkept] = '\0';
	}
	s->total += n;
	if (s->total > RESPONSE_CAP)
		return 0; /* CURLE_WRITE_ERROR: stop reading; the status is already known */
	return n;
}

/* SIGINT/SIGTERM end a request at once: the delivery stays pending. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)arg;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return pgphase_interrupted() ? 1 : 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void notify_response_release(struct notify_response *resp)
{
	free(resp->error);
	memset(resp, 0, sizeof(*resp));
}

/* Error text with every mask replaced (malloc'd). */
static char *masked_text(const char *text, const char *const *masks)
{
	char *out = xstrdup(text);

	for (size_t i = 0; masks && masks[i]; i++) {
		char *next = pgphase_mask_secret(out, masks[i]);

		free(out);
		out = next;
	}
	return out;
}

/* "HTTP 500: <start of the answer, printable, one line>" */
static char *status_error(long status, const struct sink *sink, const char *why)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addf(&sb, "HTTP %ld", status);
	if (why)
		sbuf_addf(&sb, " (%s)", why);
	if (sink->nkept > 0) {
		sbuf_adds(&sb, ": ");
		for (size_t i = 0; i < sink->nkept; i++) {
			char c = sink->kept[i];

			sbuf_add(&sb, isprint((unsigned char)c) ? &c : " ", 1);
		}
		while (sb.len > 0 && sb.buf[sb.len - 1] == ' ')
			sb.buf[--sb.len] = '\0';
		if (sink->total > sink->nkept)
			sbuf_adds(&sb, "...");
	}
	return sbuf_detach(&sb);
}

static void classify(long status, const struct sink *sink, struct notify_response *resp)
{
	resp->status = status;
	if (status >= 200 && status < 300) {
		resp->outcome = NOTIFY_DELIVERED;
	} else if (status == 408 || status == 429 || status >= 500) {
		resp->outcome = NOTIFY_RETRY;
		resp->error = status_error(status, sink, NULL);
	} else if (status >= 300 && status < 400) {
		resp->outcome = NOTIFY_FAILED;
		resp->error = status_error(status, sink, "redirects are not followed");
	} else {
		resp->outcome = NOTIFY_FAILED;
		resp->error = status_error(status, sink, NULL);
	}
}

static struct curl_slist *headers(const struct notify_request *rq)
{
	struct curl_slist *h = NULL;
	char *line, ts[32];

	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	line = xasprintf("X-Pgphase-Event: %s", rq->event_type);
	h = curl_slist_append(h, line);
	free(line);
	line = xasprintf("X-Pgphase-Delivery: %s", rq->delivery_id);
	h = curl_slist_append(h, line);
	free(line);
	line = xasprintf("X-Pgphase-Timestamp: %s", ts);
	h = curl_slist_append(h, line);
	free(line);
	if (rq->secret) {
		char *sig = notify_signature(rq->secret, ts, rq->body);

		line = xasprintf("X-Pgphase-Signature: %s", sig);
		h = curl_slist_append(h, line);
		free(line);
		free(sig);
	}
	return h;
}

void notify_http_post(const struct notify_request *rq, struct notify_response *resp)
{
	struct sink sink = { .nkept = 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURL *c = NULL;
	CURLcode res;
	long status = 0;
	curl_off_t retry_after = 0;

	memset(resp, 0, sizeof(*resp));
	pthread_once(&curl_once, curl_init_once);
	c = curl_easy_init();
	if (!c) {
		resp->outcome = NOTIFY_RETRY;
		resp->error = xstrdup("cannot initialise libcurl");
		goto cleanup;
	}
	hdrs = headers(rq);
	curl_easy_setopt(c, CURLOPT_URL, rq->w->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "pgphase/" PGPHASE_VERSION);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(rq->body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	if (rq->w->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	res = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (status > 0) {
		/* the status line decides, whatever happened to the body afterwards */
		classify(status, &sink, resp);
		if (resp->outcome == NOTIFY_RETRY &&
		    curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		    retry_after > 0)
			resp->retry_after_ms = retry_after > 3600 ? 3600000L : (long)retry_after * 1000;
	} else {
		char *text = xasprintf("%s%s%s", curl_easy_strerror(res), errbuf[0] ? ": " : "",
				       errbuf);

		resp->outcome = res == CURLE_UNSUPPORTED_PROTOCOL || res == CURLE_URL_MALFORMAT
				? NOTIFY_FAILED : NOTIFY_RETRY;
		resp->error = text;
	}
	if (resp->error) {
		char *m = masked_text(resp->error, rq->masks);

		free(resp->error);
		resp->error = m;
	}
cleanup:
	curl_slist_free_all(hdrs);
	if (c)
		curl_easy_cleanup(c);
}
