/*
 * Helpers the commands share: opening a session with the run lock, loading the directory.
 */
#include "cli.h"
#include "pgphase/notify.h"

int cli_open(struct cli *cli, struct pgphase_session *s, bool lock, struct pgphase_error *err)
{
	/* webhook config errors stop a command before it connects or changes anything; commands
	 * that change the database (they take the lock) will sign requests: check the secrets */
	if (pgphase_notify_check_config(&cli->cfg, lock, err) < 0)
		return -1;
	if (pgphase_session_open(s, &cli->cfg, cli->command, err) < 0)
		return -1;
	if (lock && pgphase_session_lock(s, err) < 0) {
		pgphase_session_close(s);
		return -1;
	}
	return 0;
}

int cli_load(struct cli *cli, struct pgphase_migration_set *set, struct pgphase_error *err)
{
	struct pgphase_template_vars vars = { cli->cfg.schema };

	return pgphase_migration_set_load(set, cli->cfg.migrations, &vars, err);
}
