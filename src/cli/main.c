/*
 * pgphase command line: option parsing, the precedence merge, the command dispatch, and the
 * mapping of errors to messages and exit codes.  Every flag comes from the option table
 * (src/base/options.c): getopt_long's table is built from it, so global options work before
 * or after COMMAND, and a flag outside its commands is refused.  A flag that sets a setting
 * is stored at once with the "flag" source; the config file and the environment, read
 * afterwards, replace only lower sources (never by comparing a value with its default).
 * --help and the README lists are printed by help.c from the same table.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/options.h"
#include "pgphase/log.h"
#include "pgphase/session.h"
#include "base/util.h"

/* The command functions, by enum pgphase_command (names and help: src/base/options.c). */
static int (*const command_fns[PGPHASE_CMD_COUNT])(struct cli *, struct pgphase_error *) = {
	[PGPHASE_CMD_INIT] = cmd_init, [PGPHASE_CMD_NEW] = cmd_new,
	[PGPHASE_CMD_STATUS] = cmd_status, [PGPHASE_CMD_MIGRATE] = cmd_migrate,
	[PGPHASE_CMD_ROLLBACK] = cmd_rollback, [PGPHASE_CMD_PLAN] = cmd_plan,
	[PGPHASE_CMD_EXPAND] = cmd_expand, [PGPHASE_CMD_BACKFILL] = cmd_backfill,
	[PGPHASE_CMD_CONTRACT] = cmd_contract, [PGPHASE_CMD_HISTORY] = cmd_history,
	[PGPHASE_CMD_NOTIFY] = cmd_notify, [PGPHASE_CMD_LINT] = cmd_lint,
};

static int find_command(const char *name)
{
	for (int c = 0; c < PGPHASE_CMD_COUNT; c++)
		if (strcmp(pgphase_commands[c].name, name) == 0)
			return c;
	return -1;
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
	bool given[PGOPT_COUNT]; /* the flags the user gave, for the per-command check */
	const char *config;
	const char *help_format;  /* --help=FORMAT */
};

/* getopt_long's tables from the option table: a short flag returns its letter, a long-only
 * one LONG_BASE + its id. */
#define LONG_BASE 256

static void build_getopt(struct option *longs, char *shorts)
{
	int n = 0;

	*shorts++ = ':';
	for (int i = 0; i < PGOPT_COUNT; i++) {
		const struct pgphase_option *o = &pgphase_options[i];
		int has_arg = o->type == PGOPT_T_SWITCH || o->type == PGOPT_T_BOOL ? no_argument
										  : required_argument;

		if (!o->flag)
			continue;
		if (i == PGOPT_HELP)
			has_arg = optional_argument; /* --help=options-md for the README */
		longs[n++] = (struct option){ o->flag, has_arg, NULL,
					      o->short_flag ? o->short_flag : LONG_BASE + i };
		if (o->short_flag) {
			*shorts++ = o->short_flag;
			if (has_arg == required_argument)
				*shorts++ = ':';
		}
	}
	longs[n] = (struct option){ NULL, 0, NULL, 0 };
	*shorts = '\0';
}

static int option_of(int c)
{
	if (c >= LONG_BASE)
		return c - LONG_BASE;
	for (int i = 0; i < PGOPT_COUNT; i++)
		if (pgphase_options[i].short_flag == c)
			return i;
	return -1;
}

static int set_format(struct cli *cli, const char *text, struct pgphase_error *err)
{
	static const char *const names[] = { [FORMAT_TEXT] = "text", [FORMAT_JSON] = "json",
					     [FORMAT_GITHUB] = "github", [FORMAT_SARIF] = "sarif" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(text, names[i]) == 0) {
			cli->format = (enum cli_format)i;
			cli->format_set = true;
			return 0;
		}
	return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
				 "--format: unknown format \"%s\" (text, json, github, sarif)",
				 text);
}

/* One flag: command-line state in cli, settings into cli->cfg with the "flag" source. */
static int take_option(struct cli *cli, struct flags *f, int id, const char *arg,
		       struct pgphase_error *err)
{
	char origin[64];

	snprintf(origin, sizeof(origin), "--%s", pgphase_options[id].flag);
	f->given[id] = true;
	switch (id) {
	case PGOPT_CONFIG: f->config = arg; break;
	case PGOPT_HELP: f->help_format = arg; break;
	case PGOPT_VERSION: break;
	case PGOPT_QUIET: cli->quiet = true; break;
	case PGOPT_VERBOSE: cli->verbose = true; break;
	case PGOPT_NO_COLOR: cli->color = false; break;
	case PGOPT_FORMAT: return set_format(cli, arg, err);
	case PGOPT_TO: cli->to = arg; break;
	case PGOPT_STEPS: return pgphase_option_parse(id, arg, origin, &cli->steps, err);
	case PGOPT_LIMIT: return pgphase_option_parse(id, arg, origin, &cli->limit, err);
	case PGOPT_DRY_RUN: cli->dry_run = true; break;
	case PGOPT_KEY: cli->key = arg; break;
	case PGOPT_JOIN: cli->join = true; break;
	case PGOPT_OFFLINE: cli->offline = true; break;
	case PGOPT_RAW: cli->raw = true; break;
	case PGOPT_LIST_RULES: cli->list_rules = true; break;
	case PGOPT_RULE: add_rule_ids(&cli->only_rules, arg); break;
	case PGOPT_EXCLUDE_RULE: add_rule_ids(&cli->exclude_rules, arg); break;
	default:
		return pgphase_option_set_text(&cli->cfg, id,
					       pgphase_options[id].type == PGOPT_T_BOOL ? "true" : arg,
					       PGPHASE_SOURCE_FLAG, origin, err);
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct cli *cli, struct flags *f,
		      struct pgphase_error *err)
{
	struct option longs[PGOPT_COUNT + 1];
	char shorts[2 * PGOPT_COUNT + 2];
	int c, id;

	build_getopt(longs, shorts);
	opterr = 0;
	/* GNU getopt permutes: options may come anywhere, non-options end up last in order */
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (c == ':')
			return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
						 "option \"%s\" needs a value", argv[optind - 1]);
		id = c == '?' ? -1 : option_of(c);
		if (id < 0)
			return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "unknown option \"%s\"",
						 argv[optind - 1]);
		if (take_option(cli, f, id, optarg, err) < 0)
			return -1;
	}
	if (optind < argc)
		cli->command = argv[optind++];
	cli->args = argv + optind;
	cli->nargs = argc - optind;
	return 0;
}

/* The flags given must all apply to the command. */
static int check_flags(const struct flags *f, int cmd, const struct cli *cli,
		       struct pgphase_error *err)
{
	for (int i = 0; i < PGOPT_COUNT; i++)
		if (f->given[i] && !(pgphase_options[i].commands & PGPHASE_CMD_BIT(cmd)))
			return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
						 "option --%s does not apply to \"%s\"",
						 pgphase_options[i].flag,
						 pgphase_commands[cmd].name);
	if (f->given[PGOPT_STEPS] && cli->to)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
					 "--steps and --to cannot be used together");
	return 0;
}

/*
 * Precedence flag > environment > config file > default: the flags are in cli->cfg already
 * (source "flag"); the file and then the environment fill in what no higher source set.
 */
static int configure(struct cli *cli, struct flags *f, struct pgphase_error *err)
{
	const char *path = f->config ? f->config : pgphase_options[PGOPT_CONFIG].def;

	if (pgphase_config_load(&cli->cfg, path, f->config != NULL, err) < 0)
		return -1;
	if (pgphase_config_apply_env(&cli->cfg, err) < 0)
		return -1;
	if (!cli->cfg.module[0] || !cli->cfg.state_schema[0])
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
					 "module and state schema must not be empty");
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
	int cmd = -1, rc;

	memset(&cli, 0, sizeof(cli));
	memset(&f, 0, sizeof(f));
	pgphase_config_init(&cli.cfg);
	cli.steps = strtol(pgphase_options[PGOPT_STEPS].def, NULL, 10);
	cli.color = isatty(STDERR_FILENO) && !getenv("NO_COLOR");
	if (parse_args(argc, argv, &cli, &f, &err) < 0)
		goto fail;
	pgphase_log_set_color(cli.color);
	pgphase_log_set_level(cli.quiet ? PGPHASE_LOG_WARNING
				: cli.verbose ? PGPHASE_LOG_VERBOSE : PGPHASE_LOG_INFO);
	if (f.given[PGOPT_VERSION]) {
		printf("pgphase %s\n", PGPHASE_VERSION);
		rc = 0;
		goto out;
	}
	if (f.help_format) {
		if (cli_help_format(f.help_format, stdout, &err) < 0)
			goto fail;
		rc = 0;
		goto out;
	}
	if (!cli.command) {
		cli_usage_all(f.given[PGOPT_HELP] ? stdout : stderr);
		rc = f.given[PGOPT_HELP] ? 0 : PGPHASE_EXIT_USAGE;
		goto out;
	}
	cmd = find_command(cli.command);
	if (cmd < 0) {
		pgphase_error_set(&err, PGPHASE_EXIT_USAGE, "unknown command \"%s\"", cli.command);
		pgphase_error_hint(&err, "run \"pgphase --help\" for the list of commands");
		goto fail;
	}
	if (f.given[PGOPT_HELP]) {
		cli_usage_command(cmd, stdout);
		rc = 0;
		goto out;
	}
	if (check_flags(&f, cmd, &cli, &err) < 0 || configure(&cli, &f, &err) < 0)
		goto fail;
	pgphase_install_signal_handlers();
	rc = command_fns[cmd](&cli, &err);
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
