/*
 * Configuration (DESIGN §12): defaults, then the libconfig file, then the environment
 * (DATABASE_URL; libpq's own PG* variables apply inside libpq), then command-line flags.
 * Unknown keys and wrong types are errors carrying the config file's line number.
 */
#ifndef PGPHASE_CONFIG_H
#define PGPHASE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "pgphase/error.h"

struct pgphase_webhook_config {
	char *url;
	char *secret;      /* literal secret (prefer secret_env) */
	char *secret_env;  /* name of the environment variable holding the secret */
	char **events;     /* NULL-terminated filter; NULL means every event */
	size_t n_events;
	char *format;      /* "json" | "slack" */
	long timeout_ms;   /* per attempt */
	int max_attempts;
	bool insecure;     /* skip TLS verification; logged on every run */
	int line;          /* config file line, for later validation errors */
};

struct pgphase_backfill_config {
	long batch_size;
	long sleep_ms;
	long max_rows_per_second;
	long target_batch_time_ms;
	long max_replica_lag_ms;
	int workers;
};

struct pgphase_lint_config {
	int pg_version;
	char **disable, **error, **warning; /* NULL-terminated rule id lists (may be NULL) */
	size_t n_disable, n_error, n_warning;
};

/*
 * Where a setting's value came from, lowest first.  A value replaces the current one only
 * from a source that ranks at least as high (src/base/options.h), so a flag the user gave
 * wins even when it equals the default.
 */
enum pgphase_source {
	PGPHASE_SOURCE_DEFAULT, PGPHASE_SOURCE_FILE, PGPHASE_SOURCE_ENV, PGPHASE_SOURCE_FLAG
};
#define PGPHASE_MAX_SETTINGS 64

struct pgphase_config {
	char *path;         /* config file read, or NULL */
	char *database;     /* conninfo or URI; NULL lets libpq use PG* variables */
	char *migrations;
	char *module;
	char *state_schema;
	char *schema;       /* value of {{schema}} in templates */
	long lock_timeout_ms;
	long lock_retry_budget_ms;
	long statement_timeout_ms;
	long lock_wait_ms;  /* --lock-wait: how long to wait for another run's lock */
	bool strict;        /* refuse what cannot be made safer instead of running it as written */
	struct pgphase_backfill_config backfill;
	struct pgphase_webhook_config *webhooks;
	size_t n_webhooks;
	struct pgphase_lint_config lint;
	/* per setting (index: enum pgphase_option_id in src/base/options.h), its source */
	unsigned char source[PGPHASE_MAX_SETTINGS];
};

/* Fill defaults (from the option table, src/base/options.c); every source is "default". */
void pgphase_config_init(struct pgphase_config *cfg);
void pgphase_config_release(struct pgphase_config *cfg);

/*
 * Read a libconfig file over the current values: every key is checked, but a value replaces
 * only one that came from the default or an earlier file (not the environment or a flag).
 * When required is false and the file does not exist, nothing happens.  Errors are
 * "file:line: ..." with exit code 2.
 */
int pgphase_config_load(struct pgphase_config *cfg, const char *path, bool required,
			struct pgphase_error *err);
/* Same checks for config text held in memory; name is used in messages. */
int pgphase_config_load_string(struct pgphase_config *cfg, const char *name, const char *text,
			       struct pgphase_error *err);
/*
 * Apply the environment variables of the option table (DATABASE_URL) that are set and not
 * empty, over the default and the file but not over flags.  0, or -1 with an exit-2 error.
 */
int pgphase_config_apply_env(struct pgphase_config *cfg, struct pgphase_error *err);

/* Replace a string field (frees the old value, copies the new one). */
void pgphase_config_set(char **field, const char *value);

/*
 * Parse a duration: an integer (milliseconds) or a number with unit us, ms, s, min, h.
 * Returns 0 and *ms, or -1 when malformed.
 */
int pgphase_parse_duration(const char *text, long *ms);

/*
 * A connection string for display: "postgresql://user@host:port/dbname" built from the
 * parsed conninfo, never holding a password.  Malloc'd.
 */
char *pgphase_conninfo_display(const char *conninfo);

/* Replace every occurrence of secret in text by "*****" (malloc'd copy; secret may be NULL). */
char *pgphase_mask_secret(const char *text, const char *secret);

/* The password a conninfo or URI carries (malloc'd), found even when libpq cannot parse it,
 * so that messages echoing the text can be masked; NULL when there is none. */
char *pgphase_conninfo_password(const char *conninfo);

#endif
