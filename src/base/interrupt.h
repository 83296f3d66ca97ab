/*
 * The interrupt flag and the cancel handle the signal handler uses (src/base/interrupt.c).
 * pgphase_install_signal_handlers() and pgphase_interrupted() are public
 * (include/pgphase/session.h).
 */
#ifndef PGPHASE_BASE_INTERRUPT_H
#define PGPHASE_BASE_INTERRUPT_H

#include <libpq-fe.h>

#include "pgphase/session.h"

/* Make c the handle SIGINT/SIGTERM cancel through (NULL: none); returns the previous one,
 * which the caller frees. */
PGcancel *interrupt_set_cancel(PGcancel *c);

#endif
