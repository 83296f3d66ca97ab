/*
 * Config file (libconfig), environment and display helpers.  The file is checked strictly:
 * every key must be known and of the right type, reported with its line number, so a typo
 * never silently falls back to a default.  Strings are copied before config_destroy().
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libconfig.h>
#include <libpq-fe.h>

#include "pgphase/config.h"
#include "base/util.h"

#define ERR_CFG PGPHASE_EXIT_USAGE

void pgphase_config_set(char **field, const char *value)
{
	free(*field);
	*field = value ? xstrdup(value) : NULL;
}

void pgphase_config_init(struct pgphase_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->migrations = xstrdup("migrations");
	cfg->module = xstrdup("default");
	cfg->state_schema = xstrdup("pgphase");
	cfg->schema = xstrdup("public");
	cfg->lock_timeout_ms = 1000;
	cfg->lock_retry_budget_ms = 5 * 60 * 1000;
	cfg->statement_timeout_ms = 0;
	cfg->backfill.batch_size = 1000;
	cfg->backfill.workers = 1;
	cfg->lint.pg_version = 15;
}

static void free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

static void webhook_release(struct pgphase_webhook_config *w)
{
	free(w->url);
	free(w->secret);
	free(w->secret_env);
	free_list(w->events);
	free(w->format);
}

void pgphase_config_release(struct pgphase_config *cfg)
{
	free(cfg->path);
	free(cfg->database);
	free(cfg->migrations);
	free(cfg->module);
	free(cfg->state_schema);
	free(cfg->schema);
	for (size_t i = 0; i < cfg->n_webhooks; i++)
		webhook_release(&cfg->webhooks[i]);
	free(cfg->webhooks);
	free_list(cfg->lint.disable);
	free_list(cfg->lint.error);
	free_list(cfg->lint.warning);
	memset(cfg, 0, sizeof(*cfg));
}

int pgphase_parse_duration(const char *text, long *ms)
{
	static const struct {
		const char *unit;
		double factor; /* to milliseconds */
	} units[] = { { "", 1 }, { "us", 0.001 }, { "ms", 1 }, { "s", 1000 }, { "min", 60000 },
		      { "h", 3600000 } };
	char *end;
	double v;

	while (isspace((unsigned char)*text))
		text++;
	errno = 0;
	v = strtod(text, &end);
	if (end == text || errno || v < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].unit) == 0) {
			double r = v * units[i].factor;

			if (r > 1e15)
				return -1;
			*ms = (long)(r + 0.5);
			return 0;
		}
	return -1;
}

/* --- strict reading of libconfig settings ------------------------------------------- */

struct reader {
	const char *file;
	struct pgphase_error *err;
};

static int bad(struct reader *r, const config_setting_t *s, const char *fmt, const char *name)
{
	char *msg = xasprintf(fmt, name);

	pgphase_error_at(r->err, ERR_CFG, "config", r->file, config_setting_source_line(s), 0, "%s",
			 msg);
	free(msg);
	return -1;
}

static int get_string(struct reader *r, const config_setting_t *s, char **out)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return bad(r, s, "\"%s\" must be a string", config_setting_name(s));
	pgphase_config_set(out, config_setting_get_string(s));
	return 0;
}

static int get_duration(struct reader *r, const config_setting_t *s, long *out)
{
	int t = config_setting_type(s);

	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long v = config_setting_get_int64(s);

		if (v < 0)
			return bad(r, s, "\"%s\" must not be negative", config_setting_name(s));
		*out = (long)v;
		return 0;
	}
	if (t != CONFIG_TYPE_STRING)
		return bad(r, s, "\"%s\" must be a duration: a string such as \"1s\" or an integer of milliseconds",
			   config_setting_name(s));
	if (pgphase_parse_duration(config_setting_get_string(s), out) < 0)
		return bad(r, s, "\"%s\" is not a valid duration (use us, ms, s, min or h)",
			   config_setting_name(s));
	return 0;
}

static int get_long(struct reader *r, const config_setting_t *s, long min, long *out)
{
	int t = config_setting_type(s);
	long long v;

	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return bad(r, s, "\"%s\" must be an integer", config_setting_name(s));
	v = config_setting_get_int64(s);
	if (v < min)
		return bad(r, s, min > 0 ? "\"%s\" must be positive" : "\"%s\" must not be negative",
			   config_setting_name(s));
	*out = (long)v;
	return 0;
}

static int get_bool(struct reader *r, const config_setting_t *s, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return bad(r, s, "\"%s\" must be true or false", config_setting_name(s));
	*out = config_setting_get_bool(s);
	return 0;
}

static int get_string_list(struct reader *r, const config_setting_t *s, char ***out, size_t *n)
{
	int count;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
		return bad(r, s, "\"%s\" must be a list of strings: [ \"a\", \"b\" ]",
			   config_setting_name(s));
	count = config_setting_length(s);
	free_list(*out);
	*out = xcalloc((size_t)count + 1, sizeof(char *));
	*n = 0;
	for (int i = 0; i < count; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return bad(r, e, "elements of \"%s\" must be strings", config_setting_name(s));
		(*out)[(*n)++] = xstrdup(config_setting_get_string(e));
	}
	return 0;
}

static int expect_group(struct reader *r, const config_setting_t *s)
{
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return bad(r, s, "\"%s\" must be a group: { key = value; ... }", config_setting_name(s));
	return 0;
}

static int unknown(struct reader *r, const config_setting_t *s, const char *where)
{
	char *msg = xasprintf("unknown config key \"%s\"%s%s", config_setting_name(s),
			      where ? " in " : "", where ? where : "");

	pgphase_error_at(r->err, ERR_CFG, "config", r->file, config_setting_source_line(s), 0, "%s",
			 msg);
	free(msg);
	return -1;
}

#define KEY(k) (strcmp(name, (k)) == 0)

static int read_backfill(struct reader *r, const config_setting_t *g, struct pgphase_backfill_config *b)
{
	if (expect_group(r, g) < 0)
		return -1;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		long v = 0;
		int rc;

		if (KEY("batch_size"))
			rc = get_long(r, s, 1, &b->batch_size);
		else if (KEY("sleep"))
			rc = get_duration(r, s, &b->sleep_ms);
		else if (KEY("max_rows_per_second"))
			rc = get_long(r, s, 0, &b->max_rows_per_second);
		else if (KEY("target_batch_time"))
			rc = get_duration(r, s, &b->target_batch_time_ms);
		else if (KEY("max_replica_lag"))
			rc = get_duration(r, s, &b->max_replica_lag_ms);
		else if (KEY("workers")) {
			rc = get_long(r, s, 1, &v);
			if (rc == 0 && v > 64)
				rc = bad(r, s, "\"%s\" must be at most 64", name);
			b->workers = (int)v;
		} else
			rc = unknown(r, s, "backfill");
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int read_lint(struct reader *r, const config_setting_t *g, struct pgphase_lint_config *l)
{
	if (expect_group(r, g) < 0)
		return -1;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		long v = 0;
		int rc;

		if (KEY("pg_version")) {
			rc = get_long(r, s, 1, &v);
			if (rc == 0 && (v < 9 || v > 18))
				rc = bad(r, s, "\"%s\" must be a PostgreSQL major version between 9 and 18",
					 name);
			l->pg_version = (int)v;
		} else if (KEY("disable"))
			rc = get_string_list(r, s, &l->disable, &l->n_disable);
		else if (KEY("error"))
			rc = get_string_list(r, s, &l->error, &l->n_error);
		else if (KEY("warning"))
			rc = get_string_list(r, s, &l->warning, &l->n_warning);
		else
			rc = unknown(r, s, "lint");
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int read_webhook(struct reader *r, const config_setting_t *g, struct pgphase_webhook_config *w)
{
	w->line = config_setting_source_line(g);
	w->format = xstrdup("json");
	w->timeout_ms = 5000;
	w->max_attempts = 5;
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return bad(r, g, "elements of \"%s\" must be groups: ( { url = \"...\"; } )", "webhooks");
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		long v = 0;
		int rc;

		if (KEY("url"))
			rc = get_string(r, s, &w->url);
		else if (KEY("secret"))
			rc = get_string(r, s, &w->secret);
		else if (KEY("secret_env"))
			rc = get_string(r, s, &w->secret_env);
		else if (KEY("events"))
			rc = get_string_list(r, s, &w->events, &w->n_events);
		else if (KEY("format")) {
			rc = get_string(r, s, &w->format);
			if (rc == 0 && strcmp(w->format, "json") && strcmp(w->format, "slack"))
				rc = bad(r, s, "\"%s\" must be \"json\" or \"slack\"", name);
		} else if (KEY("timeout"))
			rc = get_duration(r, s, &w->timeout_ms);
		else if (KEY("max_attempts")) {
			rc = get_long(r, s, 1, &v);
			if (rc == 0 && v > 100)
				rc = bad(r, s, "\"%s\" must be at most 100", name);
			w->max_attempts = (int)v;
		} else if (KEY("insecure"))
			rc = get_bool(r, s, &w->insecure);
		else
			rc = unknown(r, s, "a webhook");
		if (rc < 0)
			return -1;
	}
	if (!w->url)
		return bad(r, g, "a webhook needs a \"%s\"", "url");
	return 0;
}

static int read_webhooks(struct reader *r, const config_setting_t *l, struct pgphase_config *cfg)
{
	int n;

	if (config_setting_type(l) != CONFIG_TYPE_LIST)
		return bad(r, l, "\"%s\" must be a list of groups: ( { url = \"...\"; }, ... )",
			   "webhooks");
	n = config_setting_length(l);
	cfg->webhooks = xcalloc((size_t)n + 1, sizeof(*cfg->webhooks));
	for (int i = 0; i < n; i++) {
		cfg->n_webhooks++;
		if (read_webhook(r, config_setting_get_elem(l, (unsigned)i), &cfg->webhooks[i]) < 0)
			return -1;
	}
	return 0;
}

static int read_root(struct reader *r, const config_setting_t *root, struct pgphase_config *cfg)
{
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);
		int rc;

		if (KEY("database"))
			rc = get_string(r, s, &cfg->database);
		else if (KEY("migrations"))
			rc = get_string(r, s, &cfg->migrations);
		else if (KEY("module"))
			rc = get_string(r, s, &cfg->module);
		else if (KEY("state_schema"))
			rc = get_string(r, s, &cfg->state_schema);
		else if (KEY("schema"))
			rc = get_string(r, s, &cfg->schema);
		else if (KEY("lock_timeout"))
			rc = get_duration(r, s, &cfg->lock_timeout_ms);
		else if (KEY("lock_retry_budget"))
			rc = get_duration(r, s, &cfg->lock_retry_budget_ms);
		else if (KEY("statement_timeout"))
			rc = get_duration(r, s, &cfg->statement_timeout_ms);
		else if (KEY("lock_wait"))
			rc = get_duration(r, s, &cfg->lock_wait_ms);
		else if (KEY("backfill"))
			rc = read_backfill(r, s, &cfg->backfill);
		else if (KEY("webhooks"))
			rc = read_webhooks(r, s, cfg);
		else if (KEY("lint"))
			rc = read_lint(r, s, &cfg->lint);
		else
			rc = unknown(r, s, NULL);
		if (rc < 0)
			return -1;
	}
	return 0;
}

#undef KEY

/* Report a libconfig read error; path names the source. */
static int read_error(config_t *lc, const char *path, struct pgphase_error *err)
{
	if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
		return pgphase_error_set(err, ERR_CFG, "cannot read config file \"%s\"", path);
	return pgphase_error_at(err, ERR_CFG, "config", path, config_error_line(lc), 0,
				"malformed config: %s", config_error_text(lc));
}

/* Read from a file (text NULL) or from memory, then check every setting strictly. */
static int load_from(struct pgphase_config *cfg, const char *path, const char *text,
		     struct pgphase_error *err)
{
	struct reader r = { path, err };
	config_t lc;
	int rc = -1;

	config_init(&lc);
	if (!(text ? config_read_string(&lc, text) : config_read_file(&lc, path))) {
		read_error(&lc, path, err);
		goto cleanup;
	}
	if (read_root(&r, config_root_setting(&lc), cfg) < 0)
		goto cleanup;
	pgphase_config_set(&cfg->path, path);
	rc = 0;
cleanup:
	config_destroy(&lc);
	return rc;
}

int pgphase_config_load(struct pgphase_config *cfg, const char *path, bool required,
			struct pgphase_error *err)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (!required && errno == ENOENT)
			return 0;
		return pgphase_error_set(err, ERR_CFG, "cannot read config file \"%s\": %s", path,
					 strerror(errno));
	}
	return load_from(cfg, path, NULL, err);
}

int pgphase_config_load_string(struct pgphase_config *cfg, const char *name, const char *text,
			       struct pgphase_error *err)
{
	return load_from(cfg, name, text, err);
}

void pgphase_config_apply_env(struct pgphase_config *cfg)
{
	const char *url = getenv("DATABASE_URL");

	if (url && *url)
		pgphase_config_set(&cfg->database, url);
}

char *pgphase_conninfo_display(const char *conninfo)
{
	PQconninfoOption *opts, *o;
	const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
	char *out;

	opts = PQconninfoParse(conninfo ? conninfo : "", NULL);
	if (!opts)
		return xstrdup("(unparseable connection string)");
	for (o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	out = xasprintf("postgresql://%s%s%s%s%s/%s", user ? user : "", user ? "@" : "",
			host ? host : "", port ? ":" : "", port ? port : "", db ? db : "");
	PQconninfoFree(opts);
	return out;
}

char *pgphase_mask_secret(const char *text, const char *secret)
{
	struct sbuf sb = SBUF_INIT;
	const char *p = text, *hit;
	size_t sl;

	if (!secret || !*secret)
		return xstrdup(text);
	sl = strlen(secret);
	while ((hit = strstr(p, secret))) {
		sbuf_add(&sb, p, (size_t)(hit - p));
		sbuf_adds(&sb, "*****");
		p = hit + sl;
	}
	sbuf_adds(&sb, p);
	return sbuf_detach(&sb);
}

char *pgphase_conninfo_password(const char *conninfo)
{
	PQconninfoOption *opts = conninfo ? PQconninfoParse(conninfo, NULL) : NULL;
	const char *p, *at, *end, *colon;
	char *out = NULL;

	if (opts) {
		for (PQconninfoOption *o = opts; o->keyword; o++)
			if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
				out = xstrdup(o->val);
		PQconninfoFree(opts);
		return out;
	}
	if (!conninfo)
		return NULL;
	/* unparseable: find it by hand so the error message that echoes the text can be masked */
	p = strstr(conninfo, "://");
	if (p) {
		p += 3;
		end = p + strcspn(p, "/?");
		at = NULL;
		for (const char *q = p; q < end; q++)
			if (*q == '@')
				at = q;
		colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
		if (colon && at > colon + 1)
			out = xstrndup(colon + 1, (size_t)(at - colon - 1));
		return out;
	}
	p = strstr(conninfo, "password");
	if (p) {
		p += strlen("password");
		while (isspace((unsigned char)*p) || *p == '=')
			p++;
		if (*p == '\'')
			p++;
		end = p + strcspn(p, "' \t");
		if (end > p)
			out = xstrndup(p, (size_t)(end - p));
	}
	return out;
}
