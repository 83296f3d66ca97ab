/* placeholder until the linter lands (being written now) */
#include "cli.h"
int cmd_lint(struct cli *cli, struct pgphase_error *err)
{
	(void)cli;
	return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "lint: not built yet");
}
