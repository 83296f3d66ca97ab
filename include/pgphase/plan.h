/*
 * Plans (DESIGN §5): a migration's UP statements turned into ordered steps, each with its
 * phase, SQL, transaction mode, whether lock-timeout retries apply, and how to undo it while
 * the migration is not complete.  Deterministic and printable.
 */
#ifndef PGPHASE_PLAN_H
#define PGPHASE_PLAN_H

#include <stdbool.h>

#include "pgphase/migration.h"

enum pgphase_txn_mode {
	PGPHASE_TXN_GROUP, /* "txn": one transaction with its neighbours of the same phase */
	PGPHASE_TXN_OWN,   /* "own": alone in a transaction */
	PGPHASE_TXN_NONE,  /* "none": autocommit, outside any transaction */
};
const char *pgphase_txn_mode_name(enum pgphase_txn_mode t);

struct pgphase_step {
	enum pgphase_phase phase;
	enum pgphase_txn_mode txn;
	char *sql;             /* owned */
	char *undo_sql;        /* owned; NULL when nothing to undo */
	bool retry_lock;       /* lock_timeout (55P03) retries apply */
	const char *strategy;  /* static name; "as-written" when run as written */
	int line, column;      /* origin statement in the UP file */
	const char *file;      /* borrowed from the migration */
};

struct pgphase_plan {
	const struct pgphase_migration *migration; /* borrowed */
	struct pgphase_step *steps;
	size_t n, cap;
};

struct pgphase_plan_options {
	int pg_version; /* server major version, for version-dependent rewrites */
};

/*
 * Plan m (which must be parsed).  Input problems (e.g. BEGIN/COMMIT in a file pgphase wraps)
 * fail with exit code 2 and "file:line:col: ...".  Release with pgphase_plan_release().
 */
int pgphase_plan_migration(struct pgphase_plan *plan, const struct pgphase_migration *m,
			   const struct pgphase_plan_options *opts, struct pgphase_error *err);
void pgphase_plan_release(struct pgphase_plan *plan);

/* Number of steps of a phase. */
size_t pgphase_plan_count(const struct pgphase_plan *plan, enum pgphase_phase phase);

#endif
