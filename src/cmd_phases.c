/*
 * pgphase expand | backfill | contract [--to V]: run pending migrations through one phase.
 * expand may run ahead for several migrations; backfill runs expand first where it has not
 * run; contract refuses (before changing anything) a migration whose backfill is not done.
 * The session takes the run lock; webhook delivery follows the run like migrate's.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pgphase/log.h"
#include "pgphase/notify.h"
#include "pgphase/run.h"

static int run_through(struct cli *cli, enum pgphase_phase through, struct pgphase_error *err)
{
	struct pgphase_migration_set set;
	struct pgphase_session s;
	struct pgphase_run_options o = { 0 };
	struct pgphase_run_report rep;
	int rc = -1;

	o.through = through;
	o.contract_only = through == PGPHASE_PHASE_CONTRACT;
	o.out = stdout;
	o.key = cli->key;
	if (cli->to && cli_parse_version(cli->to, &o.to, err) < 0)
		return -1;
	o.to_set = cli->to != NULL;
	if (cli_load(cli, &set, err) < 0)
		return -1;
	o.join = cli->join;
	/* a joining backfill shares the work through the engine's chunk claims, not the lock */
	if (cli_open(cli, &s, !cli->join, err) < 0)
		goto out_set;
	if (pgphase_migrate(&s, &set, &o, &rep, err) == 0) {
		if (rep.migrations)
			pgphase_info("%s: %zu migration%s (%zu step%s)", cli->command, rep.migrations,
				     rep.migrations == 1 ? "" : "s", rep.steps, rep.steps == 1 ? "" : "s");
		rc = 0;
	}
	if (!cli->join)
		pgphase_notify_after_run(&s);
	pgphase_session_close(&s);
out_set:
	pgphase_migration_set_release(&set);
	return rc;
}

int cmd_expand(struct cli *cli, struct pgphase_error *err)
{
	return run_through(cli, PGPHASE_PHASE_EXPAND, err);
}

int cmd_backfill(struct cli *cli, struct pgphase_error *err)
{
	return run_through(cli, PGPHASE_PHASE_BACKFILL, err);
}

int cmd_contract(struct cli *cli, struct pgphase_error *err)
{
	return run_through(cli, PGPHASE_PHASE_CONTRACT, err);
}
