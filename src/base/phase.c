/*
 * Phase names, as plans, state rows, events and messages print them.
 */
#include "pgphase/phase.h"

const char *pgphase_phase_name(enum pgphase_phase p)
{
	switch (p) {
	case PGPHASE_PHASE_EXPAND:
		return "expand";
	case PGPHASE_PHASE_BACKFILL:
		return "backfill";
	case PGPHASE_PHASE_CONTRACT:
		return "contract";
	default:
		return "unplaced";
	}
}
