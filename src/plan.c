/*
 * The planner.  Each UP statement becomes one step, placed in expand (or in the phase its
 * explicit marker names) and run as written: grouped in the migration's transaction, or
 * outside any transaction when PostgreSQL refuses it inside one or the file says
 * -- pgphase:no-transaction.  Zero-downtime rewrites (strategies/) hook in here.
 *
 * A file's own BEGIN/COMMIT is rejected: pgphase owns transaction boundaries, because it
 * must commit the state row together with the changes.
 */
#include <stdlib.h>
#include <string.h>

#include "pgphase/plan.h"
#include "util.h"

const char *pgphase_txn_mode_name(enum pgphase_txn_mode t)
{
	switch (t) {
	case PGPHASE_TXN_OWN:
		return "own";
	case PGPHASE_TXN_NONE:
		return "none";
	default:
		return "txn";
	}
}

static struct pgphase_step *add_step(struct pgphase_plan *plan)
{
	struct pgphase_step *st;

	GROW(plan->steps, plan->cap, plan->n + 1);
	st = &plan->steps[plan->n++];
	memset(st, 0, sizeof(*st));
	return st;
}

int pgphase_plan_migration(struct pgphase_plan *plan, const struct pgphase_migration *m,
			   const struct pgphase_plan_options *opts, struct pgphase_error *err)
{
	const struct pgphase_section *up = &m->up;

	(void)opts;
	memset(plan, 0, sizeof(*plan));
	plan->migration = m;
	for (size_t i = 0; i < up->sql.n; i++) {
		const struct pgphase_stmt *stmt = &up->sql.stmts[i];
		const struct pgphase_stmt_note *note = &up->notes[i];
		struct pgphase_step *st;

		if (stmt->transaction_control) {
			pgphase_error_at(err, PGPHASE_EXIT_USAGE, "transaction-control", up->file,
					 stmt->line, stmt->column,
					 "transaction control statement in a migration: %s",
					 stmt->sql);
			pgphase_error_hint(err, "pgphase runs each migration in its own transaction and "
						"commits its state with it; remove BEGIN/COMMIT, or put "
						"\"-- pgphase:no-transaction\" at the top to run each "
						"statement on its own");
			pgphase_plan_release(plan);
			return -1;
		}
		st = add_step(plan);
		st->phase = note->phase != PGPHASE_PHASE_NONE ? note->phase : PGPHASE_PHASE_EXPAND;
		st->txn = stmt->no_transaction || m->no_transaction ? PGPHASE_TXN_NONE : PGPHASE_TXN_GROUP;
		st->sql = xstrdup(stmt->sql);
		st->retry_lock = st->txn != PGPHASE_TXN_NONE;
		st->strategy = "as-written";
		st->line = stmt->line;
		st->column = stmt->column;
		st->file = up->file;
	}
	/* steps run phase by phase; keep statement order within each phase */
	for (size_t i = 1; i < plan->n; i++) {
		struct pgphase_step tmp = plan->steps[i];
		size_t j = i;

		while (j > 0 && plan->steps[j - 1].phase > tmp.phase) {
			plan->steps[j] = plan->steps[j - 1];
			j--;
		}
		plan->steps[j] = tmp;
	}
	return 0;
}

void pgphase_plan_release(struct pgphase_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++) {
		free(plan->steps[i].sql);
		free(plan->steps[i].undo_sql);
	}
	free(plan->steps);
	memset(plan, 0, sizeof(*plan));
}

size_t pgphase_plan_count(const struct pgphase_plan *plan, enum pgphase_phase phase)
{
	size_t n = 0;

	for (size_t i = 0; i < plan->n; i++)
		n += plan->steps[i].phase == phase;
	return n;
}
