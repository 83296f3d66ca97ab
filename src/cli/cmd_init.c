/*
 * pgphase init: create the migrations directory and a starter pgphase.cfg when they are
 * missing (never overwriting), then create the state schema in the database when one is
 * reachable.  Safe to run again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pgphase/log.h"

int cmd_init(struct cli *cli, struct pgphase_error *err)
{
	struct pgphase_session s;
	const char *cfgpath = cli->cfg.path ? cli->cfg.path : "pgphase.cfg";
	int fd;

	if (mkdir(cli->cfg.migrations, 0755) == 0)
		pgphase_info("created %s/", cli->cfg.migrations);
	else if (errno != EEXIST)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot create \"%s\": %s",
					 cli->cfg.migrations, strerror(errno));
	fd = open(cfgpath, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd >= 0) {
		FILE *f = fdopen(fd, "w");

		cli_starter_config(&cli->cfg, f);
		fclose(f);
		pgphase_info("created %s", cfgpath);
	}
	if (cli_open(cli, &s, true, err) < 0)
		return -1;
	if (pgphase_state_ensure(&s, true, err) < 0) {
		pgphase_session_close(&s);
		return -1;
	}
	pgphase_info("state schema \"%s\" ready on %s", cli->cfg.state_schema, s.display);
	pgphase_session_close(&s);
	return 0;
}
