/*
 * The pgphase command line: shared state handed to each src/cli/cmd_<name>.c.  main.c parses
 * global and command options with getopt_long from the option table (src/base/options.c;
 * global options are accepted before or after COMMAND), merges settings (flag > environment
 * > config file > default) and dispatches by command.  A command returns an exit code
 * (DESIGN §11) or -1 with err filled; main.c prints the error and maps it to its code.
 */
#ifndef PGPHASE_CLI_H
#define PGPHASE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "pgphase/config.h"
#include "pgphase/error.h"

enum cli_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_GITHUB, FORMAT_SARIF };

struct cli {
	struct pgphase_config cfg; /* effective configuration */
	const char *command;
	char **args;              /* positional arguments after COMMAND */
	int nargs;
	enum cli_format format;
	bool format_set;
	bool quiet, verbose, color;

	/* command options (settings such as --batch-size or --pg-version are in cfg) */
	const char *to;           /* --to V (raw text; parse with cli_parse_version) */
	long steps;               /* --steps N */
	bool dry_run;             /* migrate --dry-run */
	long limit;               /* history --limit N */
	bool raw;                 /* lint --raw */
	bool list_rules;          /* lint --list-rules */
	bool offline;             /* plan --offline */
	const char *key;          /* backfill --key col[,col] */
	bool join;                /* backfill --join */
	char **only_rules;        /* lint --rule ID[,ID] (repeatable), NULL-terminated or NULL */
	char **exclude_rules;     /* lint --exclude-rule ID[,ID] */
};

/* Parse a --to value: a version number as in file names (e.g. 003, 20240101_120000). */
int cli_parse_version(const char *text, int64_t *version, struct pgphase_error *err);

/* Commands, one per src/cli/cmd_<name>.c. */
int cmd_init(struct cli *cli, struct pgphase_error *err);
int cmd_new(struct cli *cli, struct pgphase_error *err);
int cmd_status(struct cli *cli, struct pgphase_error *err);
int cmd_migrate(struct cli *cli, struct pgphase_error *err);
int cmd_rollback(struct cli *cli, struct pgphase_error *err);
int cmd_history(struct cli *cli, struct pgphase_error *err);
int cmd_lint(struct cli *cli, struct pgphase_error *err);
int cmd_notify(struct cli *cli, struct pgphase_error *err);
int cmd_plan(struct cli *cli, struct pgphase_error *err);
int cmd_expand(struct cli *cli, struct pgphase_error *err);
int cmd_backfill(struct cli *cli, struct pgphase_error *err);
int cmd_contract(struct cli *cli, struct pgphase_error *err);

/* Help from the option table (src/cli/help.c): all commands, one command (enum
 * pgphase_command), or the README's lists (--help=options-md | config-md; exit-2 error for
 * another format). */
#include <stdio.h>
void cli_usage_all(FILE *out);
void cli_usage_command(int cmd, FILE *out);
int cli_help_format(const char *format, FILE *out, struct pgphase_error *err);
/* The starter pgphase.cfg `init` writes: every config key of the option table with its
 * default (commented out), and migrations, module and state_schema as cfg has them. */
void cli_starter_config(const struct pgphase_config *cfg, FILE *out);

/* Shared by the commands (src/cli/cmd_common.c). */
#include "pgphase/migration.h"
#include "pgphase/session.h"
/* Open the session (exit 3 on failure) and, when lock is true, take the run lock (exit 4). */
int cli_open(struct cli *cli, struct pgphase_session *s, bool lock, struct pgphase_error *err);
/*
 * migrate / expand / backfill / contract: load, open (with the run lock unless --dry-run or
 * --join), run pending migrations through phase `through`, report "<label> N migrations",
 * deliver webhooks.  Returns 0 or -1 with err.
 */
int cli_run_migrations(struct cli *cli, enum pgphase_phase through, bool contract_only,
		       const char *label, struct pgphase_error *err);
/* Load the configured migrations directory. */
int cli_load(struct cli *cli, struct pgphase_migration_set *set, struct pgphase_error *err);
#endif
