/*
 * The three phases of a migration (DESIGN §1): every layer names them, from the front end
 * that reads -- EXPAND markers to the executor that records phase times, so they live in the
 * base layer.
 */
#ifndef PGPHASE_PHASE_H
#define PGPHASE_PHASE_H

enum pgphase_phase {
	PGPHASE_PHASE_NONE = 0, /* not placed: the planner decides */
	PGPHASE_PHASE_EXPAND,
	PGPHASE_PHASE_BACKFILL,
	PGPHASE_PHASE_CONTRACT,
};
const char *pgphase_phase_name(enum pgphase_phase p); /* "expand", ... or "unplaced" */

#endif
