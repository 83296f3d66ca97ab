/*
 * migrate, expand, backfill and contract: decide which migrations to run, check everything
 * that can be checked before the first change (checksums, unknown --to versions, parse and
 * plan errors, transaction control, contract on a migration that is not backfilled), then
 * hand each plan to the executor, through the requested phase.  Rollback lives in
 * src/run/run_rollback.c.
 */
#include <stdlib.h>
#include <string.h>

#include "base/db.h"
#include "exec/exec.h"
#include "plan/plan_staged.h"
#include "run/run.h"
#include "pgphase/log.h"
#include "state/state.h"
#include "base/util.h"

int pgphase_check_checksums(const struct pgphase_migration_set *set,
			    const struct pgphase_state *state, struct pgphase_error *err)
{
	struct sbuf list = SBUF_INIT;
	char *first = NULL;
	size_t bad = 0;

	for (size_t i = 0; i < state->n; i++) {
		const struct pgphase_state_row *row = &state->rows[i];
		const struct pgphase_migration *m = pgphase_migration_find(set, row->version);

		if (!m) {
			sbuf_addf(&list, "\n  %s: applied (%s) but the file is missing", row->file,
				    pgphase_mstate_name(row->state));
			if (!first)
				first = xasprintf("%s: applied migration file is missing", row->file);
			bad++;
		} else if (strcmp(m->checksum, row->checksum) != 0 &&
			   row->state != PGPHASE_STATE_COMPLETE && row->last_error) {
			/* an unfinished migration stopped by a failure may be fixed in place: once
			 * planned, its steps that already ran must be unchanged (exec_resume_point) */
		} else if (strcmp(m->checksum, row->checksum) != 0) {
			sbuf_addf(&list, "\n  %s: changed after it was applied (recorded sha256 %.12s…, "
					   "file %.12s…)", m->file, row->checksum, m->checksum);
			if (!first)
				first = xasprintf("%s:1: migration changed after it was applied", m->file);
			bad++;
		}
	}
	if (bad) {
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "%s", first);
		err->kind = "checksum-mismatch";
		pgphase_error_detail(err, "%zu applied migration%s do%s not match the directory:%s",
				     bad, bad == 1 ? "" : "s", bad == 1 ? "es" : "", list.buf);
		pgphase_error_hint(err, "restore the applied file; put new changes in a new migration");
	}
	free(first);
	sbuf_release(&list);
	return bad ? -1 : 0;
}

/*
 * Where each migration resumes, checked before the first change: a file fixed in place must
 * keep the steps that already ran (exec_resume_point), else exit 2 naming them.
 */
static int check_resumes(struct pgphase_migration **todo, const struct pgphase_plan *plans,
			 size_t n, const struct pgphase_state *state, struct pgphase_error *err)
{
	struct exec_resume rp;

	for (size_t i = 0; i < n; i++)
		if (exec_resume_point(&plans[i], pgphase_state_find(state, todo[i]->version), true,
				      &rp, err) < 0)
			return -1;
	return 0;
}

int run_check_to(const struct pgphase_migration_set *set, const struct pgphase_state *state,
		    const struct pgphase_run_options *o, bool allow_zero, struct pgphase_error *err)
{
	if (!o->to_set || (allow_zero && o->to == 0))
		return 0;
	if (pgphase_migration_find(set, o->to) || pgphase_state_find(state, o->to))
		return 0;
	return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "--to %lld: no migration has this version",
				 (long long)o->to);
}

/*
 * contract only contracts: every migration it would touch must be backfilled already
 * (DESIGN §6), checked before anything changes.
 */
static int check_backfilled(struct pgphase_migration **todo, size_t n,
			    const struct pgphase_state *state, struct pgphase_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct pgphase_state_row *row = pgphase_state_find(state, todo[i]->version);
		enum pgphase_mstate st = row ? row->state : PGPHASE_STATE_PENDING;

		if (st >= PGPHASE_STATE_BACKFILLED)
			continue;
		pgphase_error_at(err, PGPHASE_EXIT_USAGE, "not-backfilled", todo[i]->file, 1, 0,
				 "cannot contract: migration is %s, its backfill is not done",
				 pgphase_mstate_name(st));
		pgphase_error_hint(err, "run \"pgphase backfill\" first (or contract --to an earlier "
					"version); nothing was changed");
		return -1;
	}
	return 0;
}

/*
 * contract after a staged run that stopped before a migration (it needs an earlier one's
 * contract first): the backfilled migrations are contracted, and the pending ones after them
 * (never expanded) wait for the next expand.  Any other mix is left to check_backfilled.
 */
static size_t contract_prefix(struct pgphase_migration **todo, size_t n,
			      const struct pgphase_state *state)
{
	size_t k = 0;

	for (; k < n; k++) {
		const struct pgphase_state_row *row = pgphase_state_find(state, todo[k]->version);

		if (!row || row->state < PGPHASE_STATE_BACKFILLED)
			break;
	}
	if (k == 0 || k == n)
		return n;
	for (size_t j = k; j < n; j++) {
		const struct pgphase_state_row *row = pgphase_state_find(state, todo[j]->version);

		if (row && (row->state != PGPHASE_STATE_PENDING || row->current_phase ||
			    row->last_error))
			return n;
	}
	pgphase_info("contract: %s and later are pending (not expanded yet): they wait for the "
		     "next expand", todo[k]->file);
	return k;
}

/*
 * backfill --join: run the backfill engine's data-change steps of migrations that another
 * runner has expanded, claiming key chunks beside it.  The state row and events stay the
 * lock holder's business, so nothing else is written here.
 */
static int join_backfills(struct pgphase_session *s, struct pgphase_migration **todo,
			  const struct pgphase_plan *plans, size_t n, const struct pgphase_state *state,
			  const struct pgphase_run_options *o, struct pgphase_run_report *rep,
			  struct pgphase_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct pgphase_state_row *row = pgphase_state_find(state, todo[i]->version);
		struct exec_ctx x = { 0 };

		if (!row || row->state != PGPHASE_STATE_EXPANDED)
			continue; /* not expanded yet, or backfill already done */
		x.s = s;
		x.m = todo[i];
		x.plan = &plans[i];
		x.through = PGPHASE_PHASE_BACKFILL;
		x.steps_done = &rep->steps;
		x.key = o->key;
		for (size_t k = 0; k < plans[i].n; k++) {
			const struct pgphase_step *st = &plans[i].steps[k];

			if (st->phase != PGPHASE_PHASE_BACKFILL || st->kind != PGPHASE_STEP_BACKFILL)
				continue;
			pgphase_info("joining the backfill of %s (step %zu)", todo[i]->file, k + 1);
			if (exec_backfill_step(&x, st, k, err) < 0)
				return -1;
			rep->steps++;
		}
		rep->migrations++;
	}
	if (!rep->migrations)
		pgphase_info("nothing to join: no expanded migration is waiting for its backfill");
	return 0;
}

/*
 * A staged run (expand, backfill) runs several migrations' early phases ahead of their
 * contracts.  A migration whose steps of this run depend on the contract of an earlier one
 * (src/plan/plan_staged.c) is where the run stops: the earlier ones run through the requested
 * phase, this one and every later one wait for that contract.
 */
static void say_stop(const struct pgphase_run_options *o, const struct pgphase_migration *m,
		     const char *needs, enum pgphase_phase phase, const char *why)
{
	const char *cmd = o->through == PGPHASE_PHASE_EXPAND ? "expand" : "backfill";

	if (phase == PGPHASE_PHASE_BACKFILL)
		pgphase_warn("%s: stopping before %s: it needs %s's backfill first (%s); run "
			     "\"pgphase backfill\": it backfills %s before it expands %s", cmd,
			     m->file, needs, why, needs, m->file);
	else
		pgphase_warn("%s: stopping before %s: it needs %s's contract first (%s); run the "
			     "deploy sequence for %s (backfill, deploy the new app, retire the old "
			     "one, contract), then %s again", cmd, m->file, needs, why, needs, cmd);
}

int pgphase_migrate(struct pgphase_session *s, struct pgphase_migration_set *set,
		    const struct pgphase_run_options *o, struct pgphase_run_report *rep,
		    struct pgphase_error *err)
{
	struct pgphase_state state;
	struct pgphase_plan *plans = NULL;
	struct pgphase_plan_options popts = { PQserverVersion(s->conn) / 10000, s, set, o->key };
	struct pgphase_migration **todo = NULL;
	size_t n = 0, n_run, stop;
	bool *waiting = NULL;
	struct plan_staged *staged = NULL;
	const char *why = NULL, *needs = NULL;
	enum pgphase_phase needs_phase = PGPHASE_PHASE_CONTRACT;
	int64_t last_complete = 0;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	if (pgphase_state_load(s, &state, err) < 0)
		return -1;
	if (pgphase_check_checksums(set, &state, err) < 0 || run_check_to(set, &state, o, false, err) < 0)
		goto cleanup;
	todo = xcalloc(set->n, sizeof(*todo));
	for (size_t i = 0; i < state.n; i++)
		if (state.rows[i].state == PGPHASE_STATE_COMPLETE)
			last_complete = state.rows[i].version;
	waiting = xcalloc(set->n ? set->n : 1, sizeof(*waiting));
	for (size_t i = 0; i < set->n; i++) {
		struct pgphase_migration *m = &set->items[i];
		const struct pgphase_state_row *row = pgphase_state_find(&state, m->version);

		if (o->to_set && m->version > o->to)
			break;
		if (row && (int)row->state >= (int)o->through) {
			/* expanded or backfilled before: its contract still waits (staged runs) */
			waiting[i] = row->state != PGPHASE_STATE_COMPLETE;
			continue;
		}
		todo[n++] = m;
	}
	if (o->contract_only)
		n = contract_prefix(todo, n, &state);
	if (o->contract_only && check_backfilled(todo, n, &state, err) < 0)
		goto cleanup;
	n_run = stop = n;
	/* everything is parsed and planned before the first change, each migration against the
	   schema the earlier pending ones leave (the model carried from one plan to the next) */
	plans = xcalloc(n ? n : 1, sizeof(*plans));
	popts.carry = pgphase_plan_carry_new();
	if (o->through < PGPHASE_PHASE_CONTRACT && !o->join)
		staged = plan_staged_new(s);
	for (size_t i = 0, k = 0; i < set->n && k < n; i++) {
		struct pgphase_migration *m = &set->items[i];
		const struct pgphase_state_row *row = pgphase_state_find(&state, m->version);
		enum pgphase_phase done = row ? (enum pgphase_phase)row->state : PGPHASE_PHASE_NONE;

		popts.done_through = done;
		if (m == todo[k]) {
			if (pgphase_migration_parse(m, err) < 0 ||
			    pgphase_plan_migration(&plans[k], m, &popts, err) < 0)
				goto cleanup;
			if (staged && stop == n) {
				why = plan_staged_needs(staged, &plans[k], done, o->through, &needs,
							&needs_phase);
				if (why)
					stop = k;
				plan_staged_add_pending(staged, &plans[k],
							done > o->through ? done : o->through);
			}
			k++;
		} else if (waiting[i] && staged && stop == n) {
			/* not run now, but its contract steps have not run either: plan it (in
			   version order, for the carried model) to know what they touch */
			struct pgphase_plan p;

			if (pgphase_migration_parse(m, err) < 0 ||
			    pgphase_plan_migration(&p, m, &popts, err) < 0)
				goto cleanup;
			plan_staged_add_pending(staged, &p, done);
			pgphase_plan_release(&p);
		}
	}
	if (check_resumes(todo, plans, n, &state, err) < 0)
		goto cleanup;
	if (stop < n)
		n_run = stop;
	if (n == 0) {
		pgphase_info("nothing to do: %s is up to date", s->display);
		rc = 0;
		goto cleanup;
	}
	if (stop < n)
		say_stop(o, todo[stop], needs, needs_phase, why);
	if (o->dry_run) {
		for (size_t i = 0; i < n_run; i++)
			pgphase_plan_print_text(o->out ? o->out : stdout, &plans[i], NULL);
		rep->migrations = n_run;
		rc = 0;
		goto cleanup;
	}
	if (pgphase_state_ensure(s, true, err) < 0)
		goto cleanup;
	if (o->join) {
		rc = join_backfills(s, todo, plans, n, &state, o, rep, err);
		goto cleanup;
	}
	for (size_t i = 0; i < n_run; i++) {
		struct exec_ctx x = { 0 };
		int64_t t0 = now_us();

		if (todo[i]->version < last_complete && !pgphase_state_find(&state, todo[i]->version))
			pgphase_warn("%s is older than the newest applied migration; applying it out of "
				     "order", todo[i]->file);
		x.s = s;
		x.m = todo[i];
		x.plan = &plans[i];
		x.through = o->through;
		x.steps_done = &rep->steps;
		x.key = o->key;
		pgphase_info("%s %s ...", o->through == PGPHASE_PHASE_CONTRACT ? "applying" : "running",
			     todo[i]->file);
		if (exec_plan(&x, pgphase_state_find(&state, todo[i]->version), err) < 0)
			goto cleanup;
		pgphase_info("  %s in %.1f ms (%s)", pgphase_mstate_name(x.state),
			     (now_us() - t0) / 1000.0, todo[i]->file);
		rep->migrations++;
	}
	rc = 0;
cleanup:
	pgphase_plan_carry_free(popts.carry);
	for (size_t i = 0; plans && i < n; i++)
		pgphase_plan_release(&plans[i]);
	free(plans);
	free(todo);
	free(waiting);
	plan_staged_free(staged);
	pgphase_state_release(&state);
	return rc;
}

