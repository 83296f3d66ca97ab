/*
 * Helpers the commands share: opening a session with the run lock, loading the directory.
 */
#include "cli/cli.h"
#include "pgphase/log.h"
#include "pgphase/notify.h"
#include "pgphase/run.h"

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

/*
 * After a phase command succeeds: what the staged deploy needs next (src/run/next_step.c).
 * migrate says nothing when it left everything complete.  A failure to read the state is a
 * warning: the command itself already succeeded.
 */
static void print_next(struct pgphase_session *s, const struct pgphase_migration_set *set,
		       bool quiet_when_done)
{
	struct pgphase_state st;
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	const struct pgphase_next_step *next;

	if (pgphase_state_load(s, &st, &e) < 0) {
		pgphase_warn("could not read the state to say what is next: %s", e.message);
		pgphase_error_release(&e);
		return;
	}
	next = pgphase_next_step(set, &st);
	if (!(quiet_when_done && next->kind == PGPHASE_NEXT_UP_TO_DATE))
		pgphase_info("next: %s%s%s%s%s", next->text, next->command ? "; run: " : "",
			     next->command ? next->command : "", next->or_else ? "; or: " : "",
			     next->or_else ? next->or_else : "");
	pgphase_state_release(&st);
}

int cli_run_migrations(struct cli *cli, enum pgphase_phase through, bool contract_only,
		       const char *label, struct pgphase_error *err)
{
	struct pgphase_migration_set set;
	struct pgphase_session s;
	struct pgphase_run_options o = { 0 };
	struct pgphase_run_report rep;
	/* a dry run changes nothing; a joining backfill shares the work through the engine's
	 * chunk claims: neither takes the run lock nor has events of its own to deliver */
	bool owner = !cli->dry_run && !cli->join;
	int rc = -1;

	o.through = through;
	o.contract_only = contract_only;
	o.dry_run = cli->dry_run;
	o.out = stdout;
	o.key = cli->key;
	o.join = cli->join;
	if (cli->to && cli_parse_version(cli->to, &o.to, err) < 0)
		return -1;
	o.to_set = cli->to != NULL;
	if (cli_load(cli, &set, err) < 0)
		return -1;
	if (cli_open(cli, &s, owner, err) < 0)
		goto out_set;
	if (pgphase_migrate(&s, &set, &o, &rep, err) == 0) {
		if (rep.migrations && !cli->dry_run)
			pgphase_info("%s %zu migration%s (%zu step%s)", label, rep.migrations,
				     rep.migrations == 1 ? "" : "s", rep.steps, rep.steps == 1 ? "" : "s");
		if (!cli->dry_run && !cli->join)
			print_next(&s, &set, rep.migrations == 0 ||
				   (through == PGPHASE_PHASE_CONTRACT && !contract_only));
		rc = 0;
	}
	/* success or failure: deliver what this run put in the outbox, within a bounded time */
	if (owner)
		pgphase_notify_after_run(&s);
	pgphase_session_close(&s);
out_set:
	pgphase_migration_set_release(&set);
	return rc;
}
