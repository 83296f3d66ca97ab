/*
 * Config file (libconfig), environment and display helpers.  The file is checked strictly
 * against the option table (src/base/options.c): every key must be known and of the right
 * type and range, reported with its line number, so a typo never silently falls back to a
 * default.  A value from the file or the environment replaces only a value from a lower
 * source (a flag given on the command line stays).  Strings are copied before
 * config_destroy().  The defaults and the table itself live in options.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libconfig.h>
#include <libpq-fe.h>

#include "pgphase/config.h"
#include "base/options.h"
#include "base/util.h"

#define ERR_CFG PGPHASE_EXIT_USAGE

void pgphase_config_set(char **field, const char *value)
{
	free(*field);
	*field = value ? xstrdup(value) : NULL;
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

static int bad(struct reader *r, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(struct reader *r, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
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
		return bad(r, s, "\"%s\" must be a duration: a string such as \"1s\" or an integer of "
			   "milliseconds", config_setting_name(s));
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
	return bad(r, s, "unknown config key \"%s\"%s%s", config_setting_name(s),
		   where ? " in " : "", where ? where : "");
}

#define KEY(k) (strcmp(name, (k)) == 0)

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

#undef KEY

static int read_webhooks(struct reader *r, const config_setting_t *l, struct pgphase_config *cfg)
{
	int n;

	if (config_setting_type(l) != CONFIG_TYPE_LIST)
		return bad(r, l, "\"%s\" must be a list of groups: ( { url = \"...\"; }, ... )",
			   "webhooks");
	for (size_t i = 0; i < cfg->n_webhooks; i++)
		webhook_release(&cfg->webhooks[i]);
	free(cfg->webhooks);
	cfg->n_webhooks = 0;
	n = config_setting_length(l);
	cfg->webhooks = xcalloc((size_t)n + 1, sizeof(*cfg->webhooks));
	for (int i = 0; i < n; i++) {
		cfg->n_webhooks++;
		if (read_webhook(r, config_setting_get_elem(l, (unsigned)i), &cfg->webhooks[i]) < 0)
			return -1;
	}
	return 0;
}

/* One setting of the option table: check its type and range, store it unless a higher
 * source (environment, flag) already set it. */
static int read_setting(struct reader *r, const config_setting_t *s, int id,
			struct pgphase_config *cfg)
{
	const struct pgphase_option *o = &pgphase_options[id];
	char *field = (char *)cfg + o->offset, *str = NULL, buf[128];
	const char *range;
	long v = 0;

	switch (o->type) {
	case PGOPT_T_STRING:
		if (get_string(r, s, &str) < 0)
			return -1;
		if (pgphase_option_claim(cfg, id, PGPHASE_SOURCE_FILE))
			pgphase_option_store_string(cfg, id, str);
		free(str);
		return 0;
	case PGOPT_T_INT:
		if (get_long(r, s, o->min > 0 ? 1 : 0, &v) < 0)
			return -1;
		range = pgphase_option_check_range(id, v, buf, sizeof(buf));
		if (range)
			return bad(r, s, "\"%s\" %s", config_setting_name(s), range);
		break;
	case PGOPT_T_DURATION:
		if (get_duration(r, s, &v) < 0)
			return -1;
		break;
	case PGOPT_T_BOOL: {
		bool b = false;

		if (get_bool(r, s, &b) < 0)
			return -1;
		v = b;
		break;
	}
	case PGOPT_T_LIST:
		pgphase_option_claim(cfg, id, PGPHASE_SOURCE_FILE);
		return get_string_list(r, s, (char ***)field, (size_t *)((char *)cfg + o->count_offset));
	case PGOPT_T_WEBHOOKS:
		pgphase_option_claim(cfg, id, PGPHASE_SOURCE_FILE);
		return read_webhooks(r, s, cfg);
	default:
		return unknown(r, s, NULL);
	}
	if (pgphase_option_claim(cfg, id, PGPHASE_SOURCE_FILE))
		pgphase_option_store_long(cfg, id, v);
	return 0;
}

/* The settings of a group (group NULL: the file's top level), looked up by their dotted key. */
static int read_group(struct reader *r, const config_setting_t *g, const char *group,
		      struct pgphase_config *cfg)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		char *key = group ? xasprintf("%s.%s", group, name) : xstrdup(name);
		int id = pgphase_option_by_key(key), rc;

		free(key);
		if (id >= 0)
			rc = read_setting(r, s, id, cfg);
		else if (!group && pgphase_option_is_group(name))
			rc = expect_group(r, s) < 0 ? -1 : read_group(r, s, name, cfg);
		else
			rc = unknown(r, s, group);
		if (rc < 0)
			return -1;
	}
	return 0;
}

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
	if (read_group(&r, config_root_setting(&lc), NULL, cfg) < 0)
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

int pgphase_config_apply_env(struct pgphase_config *cfg, struct pgphase_error *err)
{
	for (int i = 0; i < PGOPT_COUNT; i++) {
		const char *env = pgphase_options[i].env, *v = env ? getenv(env) : NULL;
		char *origin;
		int rc;

		if (!v || !*v)
			continue;
		origin = xasprintf("$%s", env);
		rc = pgphase_option_set_text(cfg, i, v, PGPHASE_SOURCE_ENV, origin, err);
		free(origin);
		if (rc < 0)
			return -1;
	}
	return 0;
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
