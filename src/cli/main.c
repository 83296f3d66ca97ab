/*
 * pgphase command line: option parsing, configuration precedence (file → environment →
 * flags), the command table, and the mapping of errors to messages and exit codes.  All
 * options live in one getopt_long table so global options work before or after COMMAND;
 * each command lists the command options it accepts.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pgphase/log.h"
#include "pgphase/session.h"
#include "base/util.h"

enum opt_id {
	OPT_TO = 1000, OPT_STEPS, OPT_DRY_RUN, OPT_LIMIT, OPT_RAW, OPT_LIST_RULES, OPT_PG_VERSION,
	OPT_OFFLINE, OPT_KEY, OPT_MODULE, OPT_STATE_SCHEMA, OPT_FORMAT, OPT_LOCK_WAIT, OPT_NO_COLOR,
	OPT_BATCH_SIZE, OPT_SLEEP, OPT_MAX_RPS, OPT_WORKERS, OPT_TARGET_BATCH_TIME, OPT_MAX_REPLICA_LAG,
	OPT_RULE, OPT_EXCLUDE_RULE, OPT_JOIN,
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "database", required_argument, NULL, 'd' },
	{ "migrations", required_argument, NULL, 'm' },
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "state-schema", required_argument, NULL, OPT_STATE_SCHEMA },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "lock-wait", required_argument, NULL, OPT_LOCK_WAIT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "no-color", no_argument, NULL, OPT_NO_COLOR },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "to", required_argument, NULL, OPT_TO },
	{ "steps", required_argument, NULL, OPT_STEPS },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "list-rules", no_argument, NULL, OPT_LIST_RULES },
	{ "pg-version", required_argument, NULL, OPT_PG_VERSION },
	{ "offline", no_argument, NULL, OPT_OFFLINE },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "rule", required_argument, NULL, OPT_RULE },
	{ "join", no_argument, NULL, OPT_JOIN },
	{ "exclude-rule", required_argument, NULL, OPT_EXCLUDE_RULE },
	{ "batch-size", required_argument, NULL, OPT_BATCH_SIZE },
	{ "sleep", required_argument, NULL, OPT_SLEEP },
	{ "max-rows-per-second", required_argument, NULL, OPT_MAX_RPS },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "target-batch-time", required_argument, NULL, OPT_TARGET_BATCH_TIME },
	{ "max-replica-lag", required_argument, NULL, OPT_MAX_REPLICA_LAG },
	{ NULL, 0, NULL, 0 },
};

struct command {
	const char *name;
	int (*fn)(struct cli *, struct pgphase_error *);
	const char *options; /* command options it accepts, e.g. "to dry-run" */
	const char *usage;
	const char *summary;
};

static const struct command commands[] = {
	{ "init", cmd_init, "", "init",
	  "create the migrations directory, a starter pgphase.cfg, and the state schema" },
	{ "new", cmd_new, "", "new NAME",
	  "create the next migration file (in the directory's naming style); prints its path" },
	{ "status", cmd_status, "", "status [--format text|json]",
	  "show every migration's state, phases and checksum problems" },
	{ "migrate", cmd_migrate, "to dry-run", "migrate [--to V] [--dry-run]",
	  "apply pending migrations (all phases), in version order" },
	{ "rollback", cmd_rollback, "steps to dry-run", "rollback [--steps N | --to V] [--dry-run]",
	  "undo the newest migrations with their DOWN sections, newest first" },
	{ "plan", cmd_plan, "to offline key", "plan [--to V] [--format text|json] [--offline]",
	  "print the plan (phases, steps, strategies, SQL) of pending work; changes nothing" },
	{ "expand", cmd_expand, "to key", "expand [--to V]",
	  "run the expand phase (additive, backwards-compatible changes) of pending migrations" },
	{ "backfill", cmd_backfill, "to batch-size sleep max-rows-per-second workers key target-batch-time max-replica-lag join",
	  "backfill [--to V] [--batch-size N] [--sleep MS] [--max-rows-per-second N] [--workers N] [--key COL[,COL]] [--target-batch-time MS] [--max-replica-lag MS] [--join]",
	  "run expand (where needed) and the backfill phase: batched, resumable data changes" },
	{ "contract", cmd_contract, "to key", "contract [--to V]",
	  "run the contract phase (drops, NOT NULL, renames finished) of backfilled migrations" },
	{ "history", cmd_history, "limit", "history [--limit N] [--format text|json]",
	  "show the event history (phase starts, completions, failures, rollbacks)" },
	{ "notify", cmd_notify, "", "notify [--format text|json]",
	  "deliver webhook events still in the outbox (exit 1 while some are undelivered)" },
	{ "lint", cmd_lint, "raw list-rules pg-version rule exclude-rule", "lint [PATH...] [--raw] [--list-rules] [--pg-version N] [--rule ID[,ID]] [--exclude-rule ID[,ID]] [--format text|json|github|sarif]",
	  "check migrations for locking, rewrite and data-loss hazards" },
	{ NULL, NULL, NULL, NULL, NULL },
};

static void usage_all(FILE *out)
{
	fputs("usage: pgphase [global options] COMMAND [options] [args]\n\ncommands:\n", out);
	for (const struct command *c = commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fputs("\nglobal options (before or after COMMAND):\n"
	      "  -c, --config FILE      config file (default ./pgphase.cfg when present)\n"
	      "  -d, --database URL     conninfo or postgres:// URI (else config, $DATABASE_URL, PG* vars)\n"
	      "  -m, --migrations DIR   migrations directory (default: config, else ./migrations)\n"
	      "      --module NAME      module name (default \"default\")\n"
	      "      --state-schema S   schema of pgphase's state tables (default \"pgphase\")\n"
	      "      --format F         text | json (lint also: github, sarif)\n"
	      "      --lock-wait SECS   wait this long for another run's lock, then exit 4 (default 0)\n"
	      "  -q, --quiet  -v, --verbose  --no-color  -h, --help  -V, --version\n"
	      "\nexit codes: 0 ok, 1 work failed, 2 usage/config/input error, 3 cannot connect,\n"
	      "            4 another run holds the lock\n", out);
}

static void usage_command(const struct command *c, FILE *out)
{
	fprintf(out, "usage: pgphase [global options] %s\n\n%s\n", c->usage, c->summary);
	if (c->options[0])
		fprintf(out, "\ncommand options: %s\n", c->options);
	fputs("\nrun \"pgphase --help\" for global options\n", out);
}

static const struct command *find_command(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static bool command_accepts(const struct command *c, const char *opt)
{
	const char *p = c->options;
	size_t n = strlen(opt);

	while ((p = strstr(p, opt))) {
		if ((p == c->options || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return true;
		p += n;
	}
	return false;
}

static int parse_long(const char *opt, const char *text, long min, long *out,
		      struct pgphase_error *err)
{
	char *end;
	long v = strtol(text, &end, 10);

	if (end == text || *end || v < min)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "--%s: expected an integer >= %ld, got \"%s\"",
					 opt, min, text);
	*out = v;
	return 0;
}

int cli_parse_version(const char *text, int64_t *version, struct pgphase_error *err)
{
	char digits[32];
	size_t n = 0;

	for (const char *p = text; *p; p++) {
		if (*p >= '0' && *p <= '9' && n < sizeof(digits) - 1)
			digits[n++] = *p;
		else if (!(*p == '_' || ((*p == 'V' || *p == 'v') && p == text)) || n >= 19)
			goto bad;
	}
	if (n == 0 || n > 18)
		goto bad;
	digits[n] = '\0';
	*version = strtoll(digits, NULL, 10);
	return 0;
bad:
	return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "--to: \"%s\" is not a version", text);
}

/* Append the ids of a comma list to a NULL-terminated array (repeatable flags). */
static void add_rule_ids(char ***list, const char *text)
{
	size_t n = 0;
	const char *p = text;

	while (*list && (*list)[n])
		n++;
	while (*p) {
		size_t len = strcspn(p, ",");

		if (len) {
			*list = xrealloc(*list, (n + 2) * sizeof(char *));
			(*list)[n++] = xstrndup(p, len);
			(*list)[n] = NULL;
		}
		p += len + (p[len] == ',');
	}
}

static void free_ids(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

struct flags {
	const char *config, *database, *migrations, *module, *state_schema, *lock_wait;
	const char *used[16]; /* command options given, for the per-command check */
	int nused;
	bool help, version;
};

static void note_used(struct flags *f, const char *name)
{
	if (f->nused < 16)
		f->used[f->nused++] = name;
}

static int parse_args(int argc, char **argv, struct cli *cli, struct flags *f,
		      struct pgphase_error *err)
{
	int c;
	long v;

	opterr = 0;
	/* GNU getopt permutes: options may come anywhere, non-options end up last in order */
	while ((c = getopt_long(argc, argv, ":c:d:m:qvhV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'c': f->config = optarg; break;
		case 'd': f->database = optarg; break;
		case 'm': f->migrations = optarg; break;
		case OPT_MODULE: f->module = optarg; break;
		case OPT_STATE_SCHEMA: f->state_schema = optarg; break;
		case OPT_LOCK_WAIT: f->lock_wait = optarg; break;
		case 'q': cli->quiet = true; break;
		case 'v': cli->verbose = true; break;
		case 'h': f->help = true; break;
		case 'V': f->version = true; break;
		case OPT_NO_COLOR: cli->color = false; break;
		case OPT_FORMAT:
			cli->format_set = true;
			if (strcmp(optarg, "text") == 0) cli->format = FORMAT_TEXT;
			else if (strcmp(optarg, "json") == 0) cli->format = FORMAT_JSON;
			else if (strcmp(optarg, "github") == 0) cli->format = FORMAT_GITHUB;
			else if (strcmp(optarg, "sarif") == 0) cli->format = FORMAT_SARIF;
			else
				return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
							 "--format: unknown format \"%s\" (text, json, github, sarif)",
							 optarg);
			break;
		case OPT_TO: cli->to = optarg; note_used(f, "to"); break;
		case OPT_STEPS:
			if (parse_long("steps", optarg, 1, &cli->steps, err) < 0)
				return -1;
			cli->steps_set = true;
			note_used(f, "steps");
			break;
		case OPT_DRY_RUN: cli->dry_run = true; note_used(f, "dry-run"); break;
		case OPT_LIMIT:
			if (parse_long("limit", optarg, 1, &cli->limit, err) < 0)
				return -1;
			note_used(f, "limit");
			break;
		case OPT_RAW: cli->raw = true; note_used(f, "raw"); break;
		case OPT_LIST_RULES: cli->list_rules = true; note_used(f, "list-rules"); break;
		case OPT_PG_VERSION:
			if (parse_long("pg-version", optarg, 9, &v, err) < 0)
				return -1;
			cli->pg_version = (int)v;
			note_used(f, "pg-version");
			break;
		case OPT_OFFLINE: cli->offline = true; note_used(f, "offline"); break;
		case OPT_KEY: cli->key = optarg; note_used(f, "key"); break;
		case OPT_JOIN: cli->join = true; note_used(f, "join"); break;
		case OPT_RULE:
			add_rule_ids(&cli->only_rules, optarg);
			note_used(f, "rule");
			break;
		case OPT_EXCLUDE_RULE:
			add_rule_ids(&cli->exclude_rules, optarg);
			note_used(f, "exclude-rule");
			break;
		case OPT_BATCH_SIZE:
			if (parse_long("batch-size", optarg, 1, &cli->cfg.backfill.batch_size, err) < 0)
				return -1;
			note_used(f, "batch-size");
			break;
		case OPT_SLEEP:
			if (pgphase_parse_duration(optarg, &cli->cfg.backfill.sleep_ms) < 0)
				return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "--sleep: bad duration \"%s\"", optarg);
			note_used(f, "sleep");
			break;
		case OPT_MAX_RPS:
			if (parse_long("max-rows-per-second", optarg, 0, &cli->cfg.backfill.max_rows_per_second, err) < 0)
				return -1;
			note_used(f, "max-rows-per-second");
			break;
		case OPT_WORKERS:
			if (parse_long("workers", optarg, 1, &v, err) < 0)
				return -1;
			cli->cfg.backfill.workers = (int)v;
			note_used(f, "workers");
			break;
		case OPT_TARGET_BATCH_TIME:
			if (pgphase_parse_duration(optarg, &cli->cfg.backfill.target_batch_time_ms) < 0)
				return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "--target-batch-time: bad duration \"%s\"", optarg);
			note_used(f, "target-batch-time");
			break;
		case OPT_MAX_REPLICA_LAG:
			if (pgphase_parse_duration(optarg, &cli->cfg.backfill.max_replica_lag_ms) < 0)
				return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "--max-replica-lag: bad duration \"%s\"", optarg);
			note_used(f, "max-replica-lag");
			break;
		case ':':
			return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "option \"%s\" needs a value",
						 argv[optind - 1]);
		default:
			return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "unknown option \"%s\"",
						 argv[optind - 1]);
		}
	}
	if (optind < argc)
		cli->command = argv[optind++];
	cli->args = argv + optind;
	cli->nargs = argc - optind;
	return 0;
}

/* Precedence: defaults < config file < environment < flags. */
static int configure(struct cli *cli, struct flags *f, struct pgphase_error *err)
{
	struct pgphase_backfill_config flag_backfill = cli->cfg.backfill;
	struct pgphase_backfill_config defaults;
	struct pgphase_config tmp;
	long secs;

	pgphase_config_init(&tmp);
	defaults = tmp.backfill;
	pgphase_config_release(&tmp);
	if (pgphase_config_load(&cli->cfg, f->config ? f->config : "pgphase.cfg", f->config != NULL,
				err) < 0)
		return -1;
	/* backfill flags were parsed into cfg before the file was read: re-apply them */
	if (flag_backfill.batch_size != defaults.batch_size)
		cli->cfg.backfill.batch_size = flag_backfill.batch_size;
	if (flag_backfill.sleep_ms != defaults.sleep_ms)
		cli->cfg.backfill.sleep_ms = flag_backfill.sleep_ms;
	if (flag_backfill.max_rows_per_second != defaults.max_rows_per_second)
		cli->cfg.backfill.max_rows_per_second = flag_backfill.max_rows_per_second;
	if (flag_backfill.workers != defaults.workers)
		cli->cfg.backfill.workers = flag_backfill.workers;
	if (flag_backfill.target_batch_time_ms != defaults.target_batch_time_ms)
		cli->cfg.backfill.target_batch_time_ms = flag_backfill.target_batch_time_ms;
	if (flag_backfill.max_replica_lag_ms != defaults.max_replica_lag_ms)
		cli->cfg.backfill.max_replica_lag_ms = flag_backfill.max_replica_lag_ms;
	pgphase_config_apply_env(&cli->cfg);
	if (f->database)
		pgphase_config_set(&cli->cfg.database, f->database);
	if (f->migrations)
		pgphase_config_set(&cli->cfg.migrations, f->migrations);
	if (f->module)
		pgphase_config_set(&cli->cfg.module, f->module);
	if (f->state_schema)
		pgphase_config_set(&cli->cfg.state_schema, f->state_schema);
	if (f->lock_wait) {
		char *end;

		secs = strtol(f->lock_wait, &end, 10);
		if (end == f->lock_wait || *end || secs < 0)
			return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
						 "--lock-wait: expected seconds, got \"%s\"", f->lock_wait);
		cli->cfg.lock_wait_ms = secs * 1000;
	}
	if (!cli->cfg.module[0] || !cli->cfg.state_schema[0])
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "module and state schema must not be empty");
	return 0;
}

static void print_error(const struct pgphase_error *err)
{
	pgphase_log(PGPHASE_LOG_ERROR, "%s", err->message ? err->message : "failed");
	if (err->detail)
		fprintf(stderr, "%s\n", err->detail);
	if (err->hint)
		fprintf(stderr, "hint: %s\n", err->hint);
}

int main(int argc, char **argv)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct cli cli;
	struct flags f;
	const struct command *cmd = NULL;
	int rc;

	memset(&cli, 0, sizeof(cli));
	memset(&f, 0, sizeof(f));
	pgphase_config_init(&cli.cfg);
	cli.color = isatty(STDERR_FILENO) && !getenv("NO_COLOR");
	if (parse_args(argc, argv, &cli, &f, &err) < 0)
		goto fail;
	pgphase_log_set_color(cli.color);
	pgphase_log_set_level(cli.quiet ? PGPHASE_LOG_WARNING
				: cli.verbose ? PGPHASE_LOG_VERBOSE : PGPHASE_LOG_INFO);
	if (f.version) {
		printf("pgphase %s\n", PGPHASE_VERSION);
		rc = 0;
		goto out;
	}
	if (!cli.command) {
		usage_all(f.help ? stdout : stderr);
		rc = f.help ? 0 : PGPHASE_EXIT_USAGE;
		goto out;
	}
	cmd = find_command(cli.command);
	if (!cmd) {
		pgphase_error_set(&err, PGPHASE_EXIT_USAGE, "unknown command \"%s\"", cli.command);
		pgphase_error_hint(&err, "run \"pgphase --help\" for the list of commands");
		goto fail;
	}
	if (f.help) {
		usage_command(cmd, stdout);
		rc = 0;
		goto out;
	}
	for (int i = 0; i < f.nused; i++)
		if (!command_accepts(cmd, f.used[i])) {
			pgphase_error_set(&err, PGPHASE_EXIT_USAGE, "option --%s does not apply to \"%s\"",
					  f.used[i], cmd->name);
			goto fail;
		}
	if (cli.steps_set && cli.to) {
		pgphase_error_set(&err, PGPHASE_EXIT_USAGE, "--steps and --to cannot be used together");
		goto fail;
	}
	if (configure(&cli, &f, &err) < 0)
		goto fail;
	pgphase_install_signal_handlers();
	rc = cmd->fn(&cli, &err);
	if (rc >= 0)
		goto out;
fail:
	print_error(&err);
	rc = err.code ? err.code : PGPHASE_EXIT_FAILED;
out:
	pgphase_error_release(&err);
	pgphase_config_release(&cli.cfg);
	free_ids(cli.only_rules);
	free_ids(cli.exclude_rules);
	return rc;
}
