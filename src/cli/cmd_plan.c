/*
 * pgphase plan [--to V] [--format json] [--offline]: print the plan of pending work, change
 * nothing.  Online it reads state and catalog (no run lock: it writes nothing); --offline
 * plans every migration file without a database.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "pgphase/run.h"

int cmd_plan(struct cli *cli, struct pgphase_error *err)
{
	struct pgphase_migration_set set;
	struct pgphase_session s;
	struct pgphase_run_options o = { 0 };
	bool json = cli->format == FORMAT_JSON;
	int rc = -1;

	if (cli->format_set && cli->format != FORMAT_TEXT && cli->format != FORMAT_JSON)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "--format: plan prints text or json");
	if (cli->to && cli_parse_version(cli->to, &o.to, err) < 0)
		return -1;
	o.to_set = cli->to != NULL;
	o.key = cli->key;
	o.state_schema = cli->cfg.state_schema;
	o.strict = cli->cfg.strict;
	if (cli_load(cli, &set, err) < 0)
		return -1;
	if (cli->offline) {
		if (pgphase_plan_show(NULL, &set, &o, json, stdout, err) == 0)
			rc = 0;
	} else if (cli_open(cli, &s, false, err) == 0) {
		if (pgphase_plan_show(&s, &set, &o, json, stdout, err) == 0)
			rc = 0;
		pgphase_session_close(&s);
	}
	pgphase_migration_set_release(&set);
	return rc;
}
