/*
 * Executor internals shared by src/exec.c (running a plan) and src/run.c (choosing what to
 * run for migrate and rollback).
 */
#ifndef PGPHASE_EXEC_H
#define PGPHASE_EXEC_H

#include <stdint.h>

#include "pgphase/plan.h"
#include "pgphase/run.h"

struct exec_ctx {
	struct pgphase_session *s;
	const struct pgphase_migration *m;
	const struct pgphase_plan *plan;
	enum pgphase_phase through;        /* last phase to run */
	enum pgphase_mstate state;         /* state as committed so far */
	enum pgphase_phase finished_through;
	int64_t migration_start_us, phase_start_us;
	struct pgphase_run_report *report;
};

/* Run the plan from where row says it stopped (row NULL: from the start). */
int exec_plan(struct exec_ctx *x, const struct pgphase_state_row *row, struct pgphase_error *err);

#endif
