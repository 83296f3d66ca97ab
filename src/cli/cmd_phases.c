/*
 * pgphase expand | backfill | contract [--to V]: run pending migrations through one phase.
 * expand may run ahead for several migrations; backfill runs expand first where it has not
 * run; contract refuses (before changing anything) a migration whose backfill is not done.
 * The session takes the run lock; webhook delivery follows the run like migrate's.
 */
#include <stdio.h>

#include "cli/cli.h"

static int run_through(struct cli *cli, enum pgphase_phase through, struct pgphase_error *err)
{
	char label[32];

	snprintf(label, sizeof(label), "%s:", cli->command);
	return cli_run_migrations(cli, through, through == PGPHASE_PHASE_CONTRACT, label, err);
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
