/*
 * The table of every setting and command-line option (see options.h), and the few functions
 * that set a setting from text or typed values under the precedence rule.  It does not read
 * files (config.c) nor parse argv or print help (src/cli/).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/options.h"
#include "base/util.h"

_Static_assert(PGOPT_COUNT <= PGPHASE_MAX_SETTINGS, "grow PGPHASE_MAX_SETTINGS");

#define CMD(c) PGPHASE_CMD_BIT(PGPHASE_CMD_##c)
#define ALL PGPHASE_CMD_ALL
/* commands that run migrations through a phase */
#define RUNNERS (CMD(MIGRATE) | CMD(EXPAND) | CMD(BACKFILL) | CMD(CONTRACT))
#define FIELD(f) .offset = offsetof(struct pgphase_config, f), \
		 .size = sizeof(((struct pgphase_config *)0)->f)

const struct pgphase_command_info pgphase_commands[PGPHASE_CMD_COUNT] = {
	[PGPHASE_CMD_INIT] = { "init", "",
		"create the migrations directory, a starter pgphase.cfg, and the state schema" },
	[PGPHASE_CMD_NEW] = { "new", "NAME",
		"create the next migration file (in the directory's naming style); "
		"prints its path" },
	[PGPHASE_CMD_STATUS] = { "status", "",
		"show every migration's state, phases, checksum problems and the next step" },
	[PGPHASE_CMD_MIGRATE] = { "migrate", "",
		"apply pending migrations (all phases), in version order" },
	[PGPHASE_CMD_ROLLBACK] = { "rollback", "",
		"undo the newest migrations with their DOWN sections, newest first" },
	[PGPHASE_CMD_PLAN] = { "plan", "",
		"print the plan (phases, steps, strategies, SQL) of pending work; "
		"changes nothing" },
	[PGPHASE_CMD_EXPAND] = { "expand", "",
		"run the expand phase (additive, backwards-compatible changes) of pending "
		"migrations" },
	[PGPHASE_CMD_BACKFILL] = { "backfill", "",
		"run expand (where needed) and the backfill phase: batched, resumable data "
		"changes; deploy the new app after it" },
	[PGPHASE_CMD_CONTRACT] = { "contract", "",
		"run the contract phase (drops, NOT NULL, renames finished) of backfilled "
		"migrations, once the old app is retired" },
	[PGPHASE_CMD_HISTORY] = { "history", "",
		"show the event history (phase starts, completions, failures, rollbacks)" },
	[PGPHASE_CMD_NOTIFY] = { "notify", "",
		"deliver webhook events still in the outbox (exit 1 while some are undelivered)" },
	[PGPHASE_CMD_LINT] = { "lint", "[PATH...]",
		"check migrations for locking, rewrite and data-loss hazards" },
};

const struct pgphase_option pgphase_options[PGOPT_COUNT] = {
	[PGOPT_CONFIG] = { .flag = "config", .short_flag = 'c', .type = PGOPT_T_TEXT,
		.def = "pgphase.cfg", .commands = ALL, .metavar = "FILE",
		.help = "config file (the default is read only when present)" },
	[PGOPT_DATABASE] = { .flag = "database", .short_flag = 'd', .key = "database",
		.env = "DATABASE_URL", .type = PGOPT_T_STRING, .commands = ALL, .metavar = "URL",
		.help = "conninfo or postgres:// URI (unset: libpq's PG* variables)",
		FIELD(database) },
	[PGOPT_MIGRATIONS] = { .flag = "migrations", .short_flag = 'm', .key = "migrations",
		.type = PGOPT_T_STRING, .def = "migrations", .commands = ALL, .metavar = "DIR",
		.help = "migrations directory", FIELD(migrations) },
	[PGOPT_MODULE] = { .flag = "module", .key = "module", .type = PGOPT_T_STRING,
		.def = "default", .commands = ALL, .metavar = "NAME",
		.help = "module name (several modules share one database)", FIELD(module) },
	[PGOPT_STATE_SCHEMA] = { .flag = "state-schema", .key = "state_schema",
		.type = PGOPT_T_STRING, .def = "pgphase", .commands = ALL, .metavar = "SCHEMA",
		.help = "schema of pgphase's state tables", FIELD(state_schema) },
	[PGOPT_SCHEMA] = { .key = "schema", .type = PGOPT_T_STRING, .def = "public",
		.help = "value of {{schema}} in migration templates", FIELD(schema) },
	[PGOPT_FORMAT] = { .flag = "format", .type = PGOPT_T_TEXT, .def = "text", .commands = ALL,
		.metavar = "F", .help = "output format: text | json (lint also: github, sarif)" },
	[PGOPT_LOCK_TIMEOUT] = { .flag = "lock-timeout", .key = "lock_timeout",
		.type = PGOPT_T_DURATION, .unit = "ms", .def = "1s", .commands = ALL,
		.metavar = "DURATION", .help = "lock_timeout of each DDL attempt",
		FIELD(lock_timeout_ms) },
	[PGOPT_LOCK_RETRY_BUDGET] = { .flag = "lock-retry-budget", .key = "lock_retry_budget",
		.type = PGOPT_T_DURATION, .unit = "ms", .def = "5min", .commands = ALL,
		.metavar = "DURATION",
		.help = "how long a step retries lock timeouts before failing",
		FIELD(lock_retry_budget_ms) },
	[PGOPT_STATEMENT_TIMEOUT] = { .flag = "statement-timeout", .key = "statement_timeout",
		.type = PGOPT_T_DURATION, .unit = "ms", .def = "0", .commands = ALL,
		.metavar = "DURATION", .help = "statement_timeout of the session (0: none)",
		FIELD(statement_timeout_ms) },
	[PGOPT_LOCK_WAIT] = { .flag = "lock-wait", .key = "lock_wait", .type = PGOPT_T_DURATION,
		.unit = "s", .def = "0s", .commands = ALL, .metavar = "SECS",
		.help = "wait this long for another run's lock, then exit 4", FIELD(lock_wait_ms) },
	[PGOPT_STRICT] = { .flag = "strict", .key = "strict", .type = PGOPT_T_BOOL,
		.def = "false", .commands = RUNNERS | CMD(PLAN),
		.help = "refuse at plan time (exit 2) every statement pgphase cannot make safer, "
			"instead of running it as written in its place", FIELD(strict) },
	[PGOPT_QUIET] = { .flag = "quiet", .short_flag = 'q', .type = PGOPT_T_SWITCH,
		.commands = ALL, .help = "warnings and errors only" },
	[PGOPT_VERBOSE] = { .flag = "verbose", .short_flag = 'v', .type = PGOPT_T_SWITCH,
		.commands = ALL, .help = "more detail, and every SQL statement echoed" },
	[PGOPT_NO_COLOR] = { .flag = "no-color", .type = PGOPT_T_SWITCH, .commands = ALL,
		.help = "no colors in messages (also when $NO_COLOR is set)" },
	[PGOPT_HELP] = { .flag = "help", .short_flag = 'h', .type = PGOPT_T_SWITCH,
		.commands = ALL, .help = "show this help (pgphase COMMAND --help: the command's)" },
	[PGOPT_VERSION] = { .flag = "version", .short_flag = 'V', .type = PGOPT_T_SWITCH,
		.commands = ALL, .help = "print the version" },
	[PGOPT_TO] = { .flag = "to", .type = PGOPT_T_TEXT,
		.commands = RUNNERS | CMD(ROLLBACK) | CMD(PLAN), .metavar = "V",
		.help = "up to version V (rollback: down to V, which stays applied)" },
	[PGOPT_STEPS] = { .flag = "steps", .type = PGOPT_T_INT, .min = 1, .max = LONG_MAX,
		.def = "1", .commands = CMD(ROLLBACK), .metavar = "N",
		.help = "roll back the newest N migrations (not with --to)" },
	[PGOPT_DRY_RUN] = { .flag = "dry-run", .type = PGOPT_T_SWITCH,
		.commands = CMD(MIGRATE) | CMD(ROLLBACK),
		.help = "print the plan and change nothing (not even the state schema)" },
	[PGOPT_KEY] = { .flag = "key", .type = PGOPT_T_TEXT,
		.commands = CMD(PLAN) | CMD(EXPAND) | CMD(BACKFILL) | CMD(CONTRACT),
		.metavar = "COL[,COL]", .help = "backfill key columns (default: the primary key)" },
	[PGOPT_BATCH_SIZE] = { .flag = "batch-size", .key = "backfill.batch_size",
		.type = PGOPT_T_INT, .min = 1, .max = LONG_MAX, .def = "1000",
		.commands = CMD(BACKFILL), .metavar = "N", .help = "rows per backfill batch",
		FIELD(backfill.batch_size) },
	[PGOPT_SLEEP] = { .flag = "sleep", .key = "backfill.sleep", .type = PGOPT_T_DURATION,
		.unit = "ms", .def = "0ms", .commands = CMD(BACKFILL), .metavar = "MS",
		.help = "pause between batches", FIELD(backfill.sleep_ms) },
	[PGOPT_MAX_RPS] = { .flag = "max-rows-per-second", .key = "backfill.max_rows_per_second",
		.type = PGOPT_T_INT, .min = 0, .max = LONG_MAX, .def = "0",
		.commands = CMD(BACKFILL), .metavar = "N",
		.help = "throttle the backfill to this many rows per second (0: no limit)",
		FIELD(backfill.max_rows_per_second) },
	[PGOPT_WORKERS] = { .flag = "workers", .key = "backfill.workers", .type = PGOPT_T_INT,
		.min = 1, .max = 64, .def = "1", .commands = CMD(BACKFILL), .metavar = "N",
		.help = "connections backfilling key chunks in parallel", FIELD(backfill.workers) },
	[PGOPT_TARGET_BATCH_TIME] = { .flag = "target-batch-time",
		.key = "backfill.target_batch_time", .type = PGOPT_T_DURATION, .unit = "ms",
		.def = "0ms", .commands = CMD(BACKFILL), .metavar = "MS",
		.help = "adapt the batch size so a batch takes this long (0: fixed size)",
		FIELD(backfill.target_batch_time_ms) },
	[PGOPT_MAX_REPLICA_LAG] = { .flag = "max-replica-lag", .key = "backfill.max_replica_lag",
		.type = PGOPT_T_DURATION, .unit = "ms", .def = "0s", .commands = CMD(BACKFILL),
		.metavar = "MS", .help = "pause while a replica lags more than this (0: never)",
		FIELD(backfill.max_replica_lag_ms) },
	[PGOPT_JOIN] = { .flag = "join", .type = PGOPT_T_SWITCH, .commands = CMD(BACKFILL),
		.help = "help a running backfill (no run lock): claim key chunks beside it" },
	[PGOPT_OFFLINE] = { .flag = "offline", .type = PGOPT_T_SWITCH, .commands = CMD(PLAN),
		.help = "plan every migration file without a database" },
	[PGOPT_LIMIT] = { .flag = "limit", .type = PGOPT_T_INT, .min = 1, .max = LONG_MAX,
		.commands = CMD(HISTORY), .metavar = "N", .help = "show the newest N events only" },
	[PGOPT_RAW] = { .flag = "raw", .type = PGOPT_T_SWITCH, .commands = CMD(LINT),
		.help = "lint statements as written, ignoring what pgphase's strategies make "
			"safe" },
	[PGOPT_LIST_RULES] = { .flag = "list-rules", .type = PGOPT_T_SWITCH,
		.commands = CMD(LINT), .help = "list the lint rules and exit" },
	[PGOPT_PG_VERSION] = { .flag = "pg-version", .key = "lint.pg_version",
		.type = PGOPT_T_INT, .min = 9, .max = 18,
		.range = "a PostgreSQL major version between 9 and 18", .def = "15",
		.commands = CMD(LINT), .metavar = "N",
		.help = "PostgreSQL major version the migrations will run on",
		FIELD(lint.pg_version) },
	[PGOPT_RULE] = { .flag = "rule", .type = PGOPT_T_TEXT, .commands = CMD(LINT),
		.metavar = "ID[,ID]", .help = "run only these rules (repeatable)" },
	[PGOPT_EXCLUDE_RULE] = { .flag = "exclude-rule", .type = PGOPT_T_TEXT,
		.commands = CMD(LINT), .metavar = "ID[,ID]",
		.help = "skip these rules (repeatable)" },
	[PGOPT_LINT_DISABLE] = { .key = "lint.disable", .type = PGOPT_T_LIST,
		.help = "rule ids never reported", FIELD(lint.disable),
		.count_offset = offsetof(struct pgphase_config, lint.n_disable) },
	[PGOPT_LINT_ERROR] = { .key = "lint.error", .type = PGOPT_T_LIST,
		.help = "rule ids reported as errors", FIELD(lint.error),
		.count_offset = offsetof(struct pgphase_config, lint.n_error) },
	[PGOPT_LINT_WARNING] = { .key = "lint.warning", .type = PGOPT_T_LIST,
		.help = "rule ids reported as warnings", FIELD(lint.warning),
		.count_offset = offsetof(struct pgphase_config, lint.n_warning) },
	[PGOPT_WEBHOOKS] = { .key = "webhooks", .type = PGOPT_T_WEBHOOKS,
		.help = "list of webhook groups (see Webhooks)", FIELD(webhooks) },
};

int pgphase_option_by_key(const char *key)
{
	for (int i = 0; i < PGOPT_COUNT; i++)
		if (pgphase_options[i].key && strcmp(pgphase_options[i].key, key) == 0)
			return i;
	return -1;
}

bool pgphase_option_is_group(const char *group)
{
	size_t n = strlen(group);

	for (int i = 0; i < PGOPT_COUNT; i++) {
		const char *k = pgphase_options[i].key;

		if (k && strncmp(k, group, n) == 0 && k[n] == '.')
			return true;
	}
	return false;
}

bool pgphase_option_claim(struct pgphase_config *cfg, int id, enum pgphase_source source)
{
	if (source < cfg->source[id])
		return false;
	cfg->source[id] = (unsigned char)source;
	return true;
}

static void *field(struct pgphase_config *cfg, int id)
{
	return (char *)cfg + pgphase_options[id].offset;
}

void pgphase_option_store_long(struct pgphase_config *cfg, int id, long v)
{
	if (pgphase_options[id].type == PGOPT_T_BOOL)
		*(bool *)field(cfg, id) = v != 0;
	else if (pgphase_options[id].size == sizeof(int))
		*(int *)field(cfg, id) = (int)v;
	else
		*(long *)field(cfg, id) = v;
}

void pgphase_option_store_string(struct pgphase_config *cfg, int id, const char *v)
{
	pgphase_config_set((char **)field(cfg, id), v);
}

const char *pgphase_option_check_range(int id, long v, char *buf, size_t size)
{
	const struct pgphase_option *o = &pgphase_options[id];

	if (v >= o->min && v <= o->max)
		return NULL;
	if (o->range)
		snprintf(buf, size, "must be %s", o->range);
	else if (v > o->max)
		snprintf(buf, size, "must be at most %ld", o->max);
	else if (o->min == 0)
		snprintf(buf, size, "must not be negative");
	else if (o->min == 1)
		snprintf(buf, size, "must be positive");
	else
		snprintf(buf, size, "must be at least %ld", o->min);
	return buf;
}

/* An integer: digits with an optional sign, nothing else. */
static int parse_int(const char *text, long *out)
{
	char *end;

	if (!*text)
		return -1;
	*out = strtol(text, &end, 10);
	return *end ? -1 : 0;
}

/* A duration; a bare number is in the entry's unit (e.g. --lock-wait 2 means seconds). */
static int parse_duration(const struct pgphase_option *o, const char *text, long *ms)
{
	long n;

	if (parse_int(text, &n) == 0 && o->unit && strcmp(o->unit, "ms") != 0) {
		char *with_unit = xasprintf("%s%s", text, o->unit);
		int rc = pgphase_parse_duration(with_unit, ms);

		free(with_unit);
		return rc;
	}
	return pgphase_parse_duration(text, ms);
}

int pgphase_option_parse(int id, const char *text, const char *origin, long *v,
			 struct pgphase_error *err)
{
	const struct pgphase_option *o = &pgphase_options[id];
	char buf[128];

	if (o->type == PGOPT_T_BOOL) {
		if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
			*v = text[0] == 't';
			return 0;
		}
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "%s: expected true or false, "
					 "got \"%s\"", origin, text);
	}
	if (o->type == PGOPT_T_DURATION) {
		if (parse_duration(o, text, v) == 0)
			return 0;
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
					 "%s: expected %s, got \"%s\" (or a duration with a unit: "
					 "us, ms, s, min, h)", origin,
					 strcmp(o->unit, "s") == 0 ? "seconds" : "milliseconds", text);
	}
	if (parse_int(text, v) == 0 && !pgphase_option_check_range(id, *v, buf, sizeof(buf)))
		return 0;
	if (o->max == LONG_MAX)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
					 "%s: expected an integer >= %ld, got \"%s\"", origin,
					 o->min, text);
	return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
				 "%s: expected an integer from %ld to %ld, got \"%s\"", origin,
				 o->min, o->max, text);
}

int pgphase_option_set_text(struct pgphase_config *cfg, int id, const char *text,
			    enum pgphase_source source, const char *origin,
			    struct pgphase_error *err)
{
	long v;

	if (pgphase_options[id].type == PGOPT_T_STRING) {
		if (pgphase_option_claim(cfg, id, source))
			pgphase_option_store_string(cfg, id, text);
		return 0;
	}
	if (pgphase_option_parse(id, text, origin, &v, err) < 0)
		return -1;
	if (pgphase_option_claim(cfg, id, source))
		pgphase_option_store_long(cfg, id, v);
	return 0;
}

void pgphase_config_init(struct pgphase_config *cfg)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;

	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < PGOPT_COUNT; i++) {
		const struct pgphase_option *o = &pgphase_options[i];

		/* the table's defaults are well-formed: a failure here is a bug in the table */
		if (o->key && o->def && pgphase_option_set_text(cfg, i, o->def,
								PGPHASE_SOURCE_DEFAULT, o->key, &err) < 0)
			abort();
	}
}
