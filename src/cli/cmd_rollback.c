/*
 * pgphase rollback [--steps N | --to V] [--dry-run]: undo the newest migrations, newest
 * first: a complete one by its DOWN section, one that is not by the inverse of the steps
 * that ran (src/run/run_rollback.c).  Everything is checked before anything runs; a dry run
 * prints the SQL and takes no lock (it changes nothing, not even the state schema).
 */
#include <stdio.h>

#include "cli/cli.h"
#include "pgphase/log.h"
#include "pgphase/notify.h"
#include "pgphase/run.h"

int cmd_rollback(struct cli *cli, struct pgphase_error *err)
{
	struct pgphase_migration_set set;
	struct pgphase_session s;
	struct pgphase_run_options o = { 0 };
	struct pgphase_run_report rep;
	int rc = -1;

	o.steps = cli->steps;
	o.dry_run = cli->dry_run;
	o.out = stdout;
	if (cli->to && cli_parse_version(cli->to, &o.to, err) < 0)
		return -1;
	o.to_set = cli->to != NULL;
	if (cli_load(cli, &set, err) < 0)
		return -1;
	if (cli_open(cli, &s, !cli->dry_run, err) < 0)
		goto out_set;
	if (pgphase_rollback(&s, &set, &o, &rep, err) == 0) {
		if (rep.migrations)
			pgphase_info("rolled back %zu migration%s", rep.migrations,
				     rep.migrations == 1 ? "" : "s");
		rc = 0;
	}
	/* success or failure: deliver what this run put in the outbox, within a bounded time */
	if (!cli->dry_run)
		pgphase_notify_after_run(&s);
	pgphase_session_close(&s);
out_set:
	pgphase_migration_set_release(&set);
	return rc;
}
