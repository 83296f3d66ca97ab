/*
 * pgphase plan: print what pending work would run, changing nothing (not even the state
 * schema).  Online, migrations that are complete are skipped and the catalog answers the
 * strategies' questions; offline (no session) every migration file is planned from the files
 * alone.  Errors a run would hit at plan time (bad input, ordering, missing keys, views on a
 * renamed column) are reported here the same way, and so is where a staged run (expand)
 * would stop because a migration needs an earlier one's backfill or contract first.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/exec.h"
#include "plan/plan_staged.h"
#include "run/run.h"
#include "pgphase/log.h"
#include "pgphase/plan.h"
#include "pgphase/run.h"
#include "base/util.h"

/*
 * Where `pgphase expand` would stop (src/plan/plan_staged.c): before the first migration
 * whose expand steps need an earlier one's backfill or contract.  Said once, before that
 * migration's plan (text), or as a message (JSON keeps its shape).
 */
static void staged_note(struct plan_staged *staged, const struct pgphase_plan *plan,
			enum pgphase_phase done, bool json, bool *stopped, FILE *out)
{
	const char *earlier = NULL, *why;
	enum pgphase_phase phase = PGPHASE_PHASE_CONTRACT;

	if (*stopped)
		return; /* the run stops here: what comes after is not compared */
	why = plan_staged_needs(staged, plan, done, PGPHASE_PHASE_EXPAND, &earlier, &phase);
	if (why) {
		*stopped = true;
		if (json)
			pgphase_info("a staged run (expand) stops before %s: it needs %s's %s first "
				     "(%s)", plan->migration->file, earlier, pgphase_phase_name(phase),
				     why);
		else
			fprintf(out, "-- a staged run (expand) stops before this migration: it needs "
				"%s's %s first (%s)\n", earlier, pgphase_phase_name(phase), why);
		return;
	}
	plan_staged_add_pending(staged, plan, done > PGPHASE_PHASE_EXPAND ? done
							   : PGPHASE_PHASE_EXPAND);
}

static int show_one(struct pgphase_migration *m, const struct pgphase_plan_options *popts,
		    const char *state, bool json, bool *first, FILE *out,
		    struct plan_staged *staged, bool *stopped, struct pgphase_error *err)
{
	struct pgphase_plan plan;

	if (pgphase_migration_parse(m, err) < 0 || pgphase_plan_migration(&plan, m, popts, err) < 0)
		return -1;
	if (!json && !*first)
		fputc('\n', out);
	staged_note(staged, &plan, popts->done_through, json, stopped, out);
	if (json) {
		char *text = pgphase_plan_json(&plan, state);

		fprintf(out, "%s%s", *first ? "" : ",", text);
		free(text);
	} else {
		pgphase_plan_print_text(out, &plan, state);
	}
	*first = false;
	pgphase_plan_release(&plan);
	return 0;
}

int pgphase_plan_show(struct pgphase_session *s, struct pgphase_migration_set *set,
		      const struct pgphase_run_options *o, bool json, FILE *out,
		      struct pgphase_error *err)
{
	struct pgphase_state state;
	struct pgphase_plan_options popts = { 15, s, set, o->key };
	bool first = true, stopped = false;
	struct plan_staged *staged = plan_staged_new(s);
	int rc = -1;

	memset(&state, 0, sizeof(state));
	if (!s) {
		popts.state_schema = o->state_schema;
		popts.strict = o->strict;
	}
	if (s) {
		popts.pg_version = PQserverVersion(s->conn) / 10000;
		if (pgphase_state_load(s, &state, err) < 0)
			return -1;
		if (pgphase_check_checksums(set, &state, err) < 0)
			goto cleanup;
	}
	if (run_check_to(set, &state, o, false, err) < 0)
		goto cleanup;
	popts.carry = pgphase_plan_carry_new(); /* each plan starts where the previous ended */
	if (json)
		fputs("{\"migrations\":[", out);
	for (size_t i = 0; i < set->n; i++) {
		struct pgphase_migration *m = &set->items[i];
		const struct pgphase_state_row *row = pgphase_state_find(&state, m->version);
		const char *st = s ? pgphase_mstate_name(row ? row->state : PGPHASE_STATE_PENDING) : NULL;

		if (o->to_set && m->version > o->to)
			break;
		if (row && row->state == PGPHASE_STATE_COMPLETE)
			continue;
		popts.done_through = row ? (enum pgphase_phase)row->state : PGPHASE_PHASE_NONE;
		if (show_one(m, &popts, st, json, &first, out, staged, &stopped, err) < 0)
			goto cleanup;
	}
	if (json)
		fputs("]}\n", out);
	else if (first)
		pgphase_info("nothing to do: every migration is complete");
	rc = 0;
cleanup:
	pgphase_plan_carry_free(popts.carry);
	plan_staged_free(staged);
	pgphase_state_release(&state);
	return rc;
}
