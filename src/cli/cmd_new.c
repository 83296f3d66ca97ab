/*
 * pgphase new NAME: create the next migration file and print its path on stdout.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "pgphase/migration.h"

int cmd_new(struct cli *cli, struct pgphase_error *err)
{
	char *path = NULL;

	if (cli->nargs != 1)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "usage: pgphase new NAME");
	if (pgphase_migration_new(cli->cfg.migrations, cli->args[0], &path, err) < 0)
		return -1;
	puts(path);
	free(path);
	return 0;
}
