/*
 * pgphase migrate [--to V] [--dry-run]: every pending migration through all three phases,
 * in version order.  A dry run prints the plan and changes nothing (not even the state
 * schema).
 */
#include <stdio.h>

#include "cli/cli.h"

int cmd_migrate(struct cli *cli, struct pgphase_error *err)
{
	return cli_run_migrations(cli, PGPHASE_PHASE_CONTRACT, false, "applied", err);
}
