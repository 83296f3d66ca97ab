/*
 * The one table of pgphase's settings and command-line options (src/base/options.c), the
 * way pgbouncer's CF_ABS table or PostgreSQL's guc_tables.c describe settings.  Each entry
 * names a command-line flag and/or a config-file key (and the environment variable, if any,
 * that sets it), its type, unit, limits, default and help text, and the commands that accept
 * the flag.  From it come: the defaults (pgphase_config_init), the strict config-file reader
 * (src/base/config.c), the environment, getopt_long parsing and the precedence merge
 * (src/cli/main.c), `--help` and the README's option lists (src/cli/help.c).
 *
 * Precedence is decided per setting by where its value came from (cfg->source[id]): a value
 * replaces the current one only when its source ranks at least as high, so
 * flag > environment > config file > default whatever order the layers are read in.
 *
 * To add a setting: add an id below, an entry in pgphase_options[] (options.c) with its field
 * in struct pgphase_config, then regenerate the README lists (tests/readme_options.sh).
 * To add a command-only flag: the same without key and field; src/cli/main.c stores it.
 */
#ifndef PGPHASE_BASE_OPTIONS_H
#define PGPHASE_BASE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "pgphase/config.h"
#include "pgphase/error.h"

/* The commands, in `pgphase --help` order; option entries name them as a bit mask. */
enum pgphase_command {
	PGPHASE_CMD_INIT, PGPHASE_CMD_NEW, PGPHASE_CMD_STATUS, PGPHASE_CMD_MIGRATE,
	PGPHASE_CMD_ROLLBACK, PGPHASE_CMD_PLAN, PGPHASE_CMD_EXPAND, PGPHASE_CMD_BACKFILL,
	PGPHASE_CMD_CONTRACT, PGPHASE_CMD_HISTORY, PGPHASE_CMD_NOTIFY, PGPHASE_CMD_LINT,
	PGPHASE_CMD_COUNT
};
#define PGPHASE_CMD_BIT(c) (1u << (c))
#define PGPHASE_CMD_ALL ((1u << PGPHASE_CMD_COUNT) - 1) /* a global option */

struct pgphase_command_info {
	const char *name;
	const char *args;    /* positional arguments for the usage line, "" when none */
	const char *summary;
};
extern const struct pgphase_command_info pgphase_commands[PGPHASE_CMD_COUNT];

enum pgphase_option_id {
	/* global flags that are not settings */
	PGOPT_CONFIG, PGOPT_HELP, PGOPT_VERSION, PGOPT_QUIET, PGOPT_VERBOSE, PGOPT_NO_COLOR,
	PGOPT_FORMAT,
	/* settings (config key and/or flag) */
	PGOPT_DATABASE, PGOPT_MIGRATIONS, PGOPT_MODULE, PGOPT_STATE_SCHEMA, PGOPT_SCHEMA,
	PGOPT_LOCK_TIMEOUT, PGOPT_LOCK_RETRY_BUDGET, PGOPT_STATEMENT_TIMEOUT, PGOPT_LOCK_WAIT, PGOPT_STRICT,
	PGOPT_BATCH_SIZE, PGOPT_SLEEP, PGOPT_MAX_RPS, PGOPT_TARGET_BATCH_TIME,
	PGOPT_MAX_REPLICA_LAG, PGOPT_WORKERS,
	PGOPT_PG_VERSION, PGOPT_LINT_DISABLE, PGOPT_LINT_ERROR, PGOPT_LINT_WARNING,
	PGOPT_WEBHOOKS,
	/* command options that are not settings */
	PGOPT_TO, PGOPT_STEPS, PGOPT_DRY_RUN, PGOPT_KEY, PGOPT_JOIN, PGOPT_OFFLINE, PGOPT_LIMIT,
	PGOPT_RAW, PGOPT_LIST_RULES, PGOPT_RULE, PGOPT_EXCLUDE_RULE,
	PGOPT_COUNT
};

enum pgphase_option_type {
	PGOPT_T_SWITCH,   /* flag without a value */
	PGOPT_T_TEXT,     /* flag value kept as text by the command line (not a setting) */
	PGOPT_T_STRING,   /* char * */
	PGOPT_T_INT,      /* long or int (by field size), within min..max */
	PGOPT_T_DURATION, /* long milliseconds; a bare number on the command line is in .unit */
	PGOPT_T_BOOL,     /* bool: true/false in the file, a flag without a value sets it */
	PGOPT_T_LIST,     /* NULL-terminated char ** plus a size_t count (config file only) */
	PGOPT_T_WEBHOOKS, /* the webhooks list of groups (src/base/config.c reads it) */
};

struct pgphase_option {
	const char *flag;     /* long option without "--"; NULL: config file only */
	char short_flag;      /* 0: none */
	const char *key;      /* config key ("backfill.batch_size"); NULL: not a setting */
	const char *env;      /* environment variable that sets it; NULL: none */
	enum pgphase_option_type type;
	const char *unit;     /* durations: unit of a bare number given as a flag */
	long min, max;        /* integers */
	const char *range;    /* the range in words for messages; NULL: said from min/max */
	const char *def;      /* default, as text: parsed by pgphase_config_init, shown by --help */
	unsigned commands;    /* commands accepting the flag (PGPHASE_CMD_BIT mask) */
	const char *metavar;  /* the flag's value in --help ("N", "URL") */
	const char *help;
	size_t offset, size;  /* the field in struct pgphase_config (settings) */
	size_t count_offset;  /* lists: the size_t count beside the field */
};
extern const struct pgphase_option pgphase_options[PGOPT_COUNT];

/* The entry whose config key is `key` ("backfill.batch_size"), or -1. */
int pgphase_option_by_key(const char *key);
/* True when some config key starts with "group." (e.g. "backfill", "lint"). */
bool pgphase_option_is_group(const char *group);

/*
 * Claim setting `id` for a value from `source`: true (and the marker raised) when the source
 * ranks at least as high as the one that set the current value; false when the current value
 * came from a higher source and must stay.
 */
bool pgphase_option_claim(struct pgphase_config *cfg, int id, enum pgphase_source source);

/*
 * Set setting `id` from text (a flag value, an environment variable or a default) when
 * `source` may override the current value (pgphase_option_claim).  Malformed or out-of-range
 * text is an exit-2 error naming `origin` ("--batch-size", "$DATABASE_URL").  Only for
 * string, integer and duration settings.  0 or -1.
 */
int pgphase_option_set_text(struct pgphase_config *cfg, int id, const char *text,
			    enum pgphase_source source, const char *origin,
			    struct pgphase_error *err);

/*
 * Parse text for an integer or duration option `id` (a setting or a command option such as
 * --steps), checking its range; errors (exit 2) name `origin`.  0 or -1.
 */
int pgphase_option_parse(int id, const char *text, const char *origin, long *v,
			 struct pgphase_error *err);

/* Store typed values into setting `id` (no precedence check; see pgphase_option_claim). */
void pgphase_option_store_long(struct pgphase_config *cfg, int id, long v);
void pgphase_option_store_string(struct pgphase_config *cfg, int id, const char *v);

/* Range check of an integer setting: NULL when fine, else "must be ..." (static text). */
const char *pgphase_option_check_range(int id, long v, char *buf, size_t size);

#endif
