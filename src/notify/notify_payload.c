/*
 * What a webhook request carries: the body built from one outbox event row (DESIGN §9 JSON,
 * or a Slack-compatible {"text": ...}) and its signature.  JSON is built with jansson,
 * never by hand, and the body depends only on the event row and the database it lives in,
 * so a retry sends the same bytes under the same X-Pgphase-Delivery id.  Secrets that could
 * hide in event text (an error message quoting a statement) are masked here, before anything
 * leaves the process.  HTTP itself is notify_http.c's job.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "notify/notify.h"
#include "pgphase/config.h"
#include "base/util.h"

void notify_event_release(struct notify_event *ev)
{
	char **strs[] = { &ev->id, &ev->type, &ev->occurred_at, &ev->module, &ev->name, &ev->file,
			  &ev->phase, &ev->status, &ev->error, &ev->run_id, &ev->run_host,
			  &ev->run_user };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

/* v with every mask replaced by "*****" (malloc'd), or NULL for NULL. */
static char *masked(const char *v, const char *const *masks)
{
	char *out;

	if (!v)
		return NULL;
	out = xstrdup(v);
	for (size_t i = 0; masks && masks[i]; i++) {
		char *next = pgphase_mask_secret(out, masks[i]);

		free(out);
		out = next;
	}
	return out;
}

/* A JSON string (or null); bytes that are not valid UTF-8 become '?'. */
static json_t *jstr(const char *v, const char *const *masks)
{
	char *m = masked(v, masks);
	json_t *j;

	if (!m)
		return json_null();
	j = json_string(m);
	if (!j) {
		for (char *p = m; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		j = json_string(m);
	}
	free(m);
	return j;
}

static json_t *jnum(long long v)
{
	return v >= 0 ? json_integer((json_int_t)v) : json_null();
}

/* DESIGN §9: keys in the documented order, plus "error" (null unless the phase failed). */
static char *json_body(const struct notify_event *ev, const struct notify_db *db,
		       const char *const *masks)
{
	json_t *o = json_object(), *mig, *dbo, *run;
	char *out;

	json_object_set_new(o, "id", jstr(ev->id, NULL));
	json_object_set_new(o, "type", jstr(ev->type, NULL));
	json_object_set_new(o, "occurred_at", jstr(ev->occurred_at, NULL));
	json_object_set_new(o, "module", jstr(ev->module, masks));
	if (ev->version || ev->file) {
		mig = json_object();
		json_object_set_new(mig, "version", json_integer((json_int_t)ev->version));
		json_object_set_new(mig, "name", jstr(ev->name, masks));
		json_object_set_new(mig, "file", jstr(ev->file, masks));
	} else {
		mig = json_null();
	}
	json_object_set_new(o, "migration", mig);
	json_object_set_new(o, "phase", jstr(ev->phase, NULL));
	json_object_set_new(o, "status", jstr(ev->status, NULL));
	json_object_set_new(o, "duration_ms", jnum(ev->duration_ms));
	json_object_set_new(o, "rows", jnum(ev->rows));
	if (ev->rows >= 0) {
		/* backfill phase: how the rows got done */
		json_object_set_new(o, "rows_swept", jnum(ev->rows_swept));
		json_object_set_new(o, "batches", jnum(ev->batches));
	}
	json_object_set_new(o, "error", jstr(ev->error, masks));
	dbo = json_object();
	json_object_set_new(dbo, "host", jstr(db->host, masks));
	json_object_set_new(dbo, "port", db->port > 0 ? json_integer(db->port) : json_null());
	json_object_set_new(dbo, "name", jstr(db->name, masks));
	json_object_set_new(o, "database", dbo);
	run = json_object();
	json_object_set_new(run, "id", jstr(ev->run_id, NULL));
	json_object_set_new(run, "host", jstr(ev->run_host, masks));
	json_object_set_new(run, "user", jstr(ev->run_user, masks));
	json_object_set_new(o, "run", run);
	out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return out;
}

/* Append s to sb on one line: newlines and tabs become spaces. */
static void add_line(struct sbuf *sb, const char *s)
{
	for (const char *p = s; *p; p++) {
		char c = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;

		sbuf_add(sb, &c, 1);
	}
}

/* One line: "pgphase: phase.completed expand of 003_x.sql (module m) succeeded in 12 ms ..." */
static char *slack_body(const struct notify_event *ev, const struct notify_db *db,
			const char *const *masks)
{
	struct sbuf sb = SBUF_INIT;
	json_t *o;
	char *text, *out;

	sbuf_addf(&sb, "pgphase: %s", ev->type);
	if (ev->phase)
		sbuf_addf(&sb, " %s", ev->phase);
	if (ev->file)
		sbuf_addf(&sb, " of %s", ev->file);
	sbuf_addf(&sb, " (module %s)", ev->module ? ev->module : "default");
	sbuf_addf(&sb, " %s", ev->status ? ev->status : "");
	if (ev->duration_ms >= 0)
		sbuf_addf(&sb, " in %lld ms", ev->duration_ms);
	if (ev->rows >= 0)
		sbuf_addf(&sb, ", %lld rows (%lld swept after locks) in %lld batches", ev->rows,
			  ev->rows_swept > 0 ? ev->rows_swept : 0, ev->batches > 0 ? ev->batches : 0);
	if (ev->error)
		sbuf_addf(&sb, ": %s", ev->error);
	sbuf_addf(&sb, " | database %s on %s", db->name ? db->name : "?", db->host ? db->host : "?");
	if (db->port > 0)
		sbuf_addf(&sb, ":%d", db->port);
	sbuf_addf(&sb, " | run %s by %s on %s | event %s", ev->run_id ? ev->run_id : "-",
		    ev->run_user ? ev->run_user : "-", ev->run_host ? ev->run_host : "-", ev->id);
	text = sbuf_detach(&sb);
	add_line(&sb, text);
	free(text);
	text = sbuf_detach(&sb);
	o = json_object();
	json_object_set_new(o, "text", jstr(text, masks));
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(text);
	return out;
}

char *notify_body(const struct notify_event *ev, const struct notify_db *db, bool slack,
		  const char *const *masks)
{
	return slack ? slack_body(ev, db, masks) : json_body(ev, db, masks);
}

void notify_hmac_hex(const char *key, const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!HMAC(EVP_sha256(), key, (int)strlen(key), data, len, md, &mdlen))
		mdlen = 0;
	for (unsigned int i = 0; i < mdlen && i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * (mdlen < 32 ? mdlen : 32)] = '\0';
}

char *notify_signature(const char *secret, const char *timestamp, const char *body)
{
	char *signed_text = xasprintf("%s.%s", timestamp, body);
	char hex[65];

	notify_hmac_hex(secret, signed_text, strlen(signed_text), hex);
	free(signed_text);
	return xasprintf("sha256=%s", hex);
}
