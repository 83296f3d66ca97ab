/*
 * The `options` of pgphase's connections: the user's own connection options merged with the
 * session settings pgphase needs (lock_timeout, statement_timeout).  libpq takes one
 * `options` value per connection, and an explicit one hides the connection string's, a
 * service file's and PGOPTIONS; so pgphase finds the value the user's connection would have
 * had, the way libpq does, and appends its own settings to it instead of replacing it
 * (a user's `-c search_path=app` or `-c default_transaction_read_only=on` stays in force).
 *
 * Precedence: for the two settings pgphase owns, pgphase's value is appended last and so
 * wins (the server applies -c switches in order).  A connection string written for the
 * application may carry `lock_timeout=0`, which would let a DDL step queue behind a long
 * transaction and block every query of the app; the short-lock guarantee must not depend
 * on it.  Such an override is reported once as a warning that names --lock-timeout /
 * --statement-timeout, the knobs that do set them.
 *
 * This module does not connect; src/base/db.c does, and backfill workers copy the merged
 * value from the session's connection (PQconninfo).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/db.h"
#include "base/util.h"
#include "pgphase/log.h"

/* libpq's test (recognized_connection_string): a URI, or a string holding a '=' */
static bool is_conninfo(const char *s)
{
	return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0 ||
	       strchr(s, '=') != NULL;
}

static char *option_value(PQconninfoOption *opts, const char *keyword)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0 && o->val && o->val[0])
			return xstrdup(o->val);
	return NULL;
}

/*
 * libpq's defaults for an unset `options`: the service file's (the service named in the
 * connection string, else $PGSERVICE), else $PGOPTIONS.  PQconndefaults() applies exactly
 * that order; a service named in the string is handed to it through PGSERVICE for the call
 * (sessions open before any thread starts).
 */
static char *default_options(const char *service)
{
	const char *was = getenv("PGSERVICE");
	char *saved = was ? xstrdup(was) : NULL;
	PQconninfoOption *defs;
	char *out;

	if (service)
		setenv("PGSERVICE", service, 1);
	defs = PQconndefaults();
	if (service) {
		if (saved)
			setenv("PGSERVICE", saved, 1);
		else
			unsetenv("PGSERVICE");
	}
	free(saved);
	out = option_value(defs, "options");
	PQconninfoFree(defs);
	return out;
}

char *db_user_options(const char *conninfo)
{
	PQconninfoOption *opts = NULL;
	char *out = NULL, *service = NULL;

	if (conninfo && is_conninfo(conninfo))
		opts = PQconninfoParse(conninfo, NULL);
	if (opts) {
		out = option_value(opts, "options");
		service = option_value(opts, "service");
		PQconninfoFree(opts);
	}
	if (!out)
		out = default_options(service);
	free(service);
	return out;
}

/*
 * Split an options string the way the server does (pg_split_opts): arguments are separated
 * by unescaped whitespace, a backslash takes the next character literally.  Returns the
 * number of arguments stored in args (each malloc'd), at most max.
 */
static int split_opts(const char *s, char **args, int max)
{
	int n = 0;

	while (*s && n < max) {
		struct sbuf sb = SBUF_INIT;
		bool esc = false;

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		for (; *s && (esc || !isspace((unsigned char)*s)); s++) {
			if (!esc && *s == '\\') {
				esc = true;
				continue;
			}
			esc = false;
			sbuf_add(&sb, s, 1);
		}
		args[n++] = sbuf_detach(&sb);
	}
	return n;
}

/* Does "name=value" (as the server reads it: '-' means '_', any case) set guc? */
static bool sets(const char *assign, const char *guc)
{
	size_t i;

	for (i = 0; guc[i]; i++) {
		char c = assign[i] == '-' ? '_' : (char)tolower((unsigned char)assign[i]);

		if (c != guc[i])
			return false;
	}
	return assign[i] == '=';
}

/* Does the user's options string set guc (-c guc=v, -cguc=v or --guc=v)? */
static bool user_sets(const char *user, const char *guc)
{
	char *args[256];
	int n = split_opts(user, args, 256);
	bool found = false;

	for (int i = 0; i < n; i++) {
		const char *a = args[i];

		if (strcmp(a, "-c") == 0 && i + 1 < n)
			a = args[++i];
		else if (strncmp(a, "-c", 2) == 0 || strncmp(a, "--", 2) == 0)
			a += 2;
		else
			continue;
		if (sets(a, guc))
			found = true;
	}
	for (int i = 0; i < n; i++)
		free(args[i]);
	return found;
}

char *db_merge_options(const char *user, long lock_timeout_ms, long statement_timeout_ms)
{
	struct sbuf sb = SBUF_INIT;
	size_t len = user ? strlen(user) : 0, bs = 0;

	if (len) {
		/* a trailing unpaired backslash escapes nothing; left in place it would
		 * escape the space before our settings */
		while (bs < len && user[len - 1 - bs] == '\\')
			bs++;
		sbuf_add(&sb, user, len - (bs % 2));
		sbuf_adds(&sb, " ");
		if (user_sets(user, "lock_timeout"))
			pgphase_warn("the connection options set lock_timeout; pgphase uses its own "
				     "(%ld ms; set it with --lock-timeout or lock_timeout in the "
				     "config file)", lock_timeout_ms);
		if (user_sets(user, "statement_timeout"))
			pgphase_warn("the connection options set statement_timeout; pgphase uses its "
				     "own (%ld ms; set it with --statement-timeout or "
				     "statement_timeout in the config file)", statement_timeout_ms);
	}
	/* numbers only: nothing to escape */
	sbuf_addf(&sb, "-c lock_timeout=%ld -c statement_timeout=%ld", lock_timeout_ms,
		    statement_timeout_ms);
	return sbuf_detach(&sb);
}
