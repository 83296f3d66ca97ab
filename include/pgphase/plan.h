/*
 * Plans (DESIGN §5): a migration's UP statements turned into ordered steps, each with its
 * phase, SQL, transaction mode, whether lock-timeout retries apply, and how to undo it while
 * the migration is not complete.  Deterministic and printable.
 *
 * Zero-downtime rewrites are strategies (strategies/, one file each, one registry); the
 * planner asks each strategy in registry order whether it handles a statement, and runs the
 * statement as written in expand when none does.
 */
#ifndef PGPHASE_PLAN_H
#define PGPHASE_PLAN_H

#include <stdbool.h>
#include <stdio.h>

#include "pgphase/arena.h"
#include "pgphase/backfill.h"
#include "pgphase/migration.h"
#include "pgphase/session.h"

enum pgphase_txn_mode {
	PGPHASE_TXN_GROUP, /* "txn": one transaction with its neighbours of the same phase */
	PGPHASE_TXN_OWN,   /* "own": alone in a transaction */
	PGPHASE_TXN_NONE,  /* "none": autocommit, outside any transaction */
};
const char *pgphase_txn_mode_name(enum pgphase_txn_mode t);

/* What the executor does with a step. */
enum pgphase_step_kind {
	PGPHASE_STEP_SQL,         /* run sql */
	PGPHASE_STEP_INDEX,       /* sql builds an index CONCURRENTLY; then pg_index.indisvalid is
	                             checked and an INVALID leftover is dropped (undo_sql) and the
	                             build retried, a bounded number of times */
	PGPHASE_STEP_BACKFILL,    /* the backfill engine runs dml in key-ordered batches */
	PGPHASE_STEP_CHECK_NULLS, /* sql counts NULLs; any row fails the step with the count */
};
const char *pgphase_step_kind_name(enum pgphase_step_kind k);

/*
 * One step.  Its strings (sql, undo_sql, target, dml, open_sql, the key's columns, types and
 * display text) belong to the plan's arena and live until pgphase_plan_release(): never free
 * them (nor pgphase_backfill_key_release() the key), and copy any you keep longer.
 */
struct pgphase_step {
	enum pgphase_phase phase;
	enum pgphase_txn_mode txn;
	enum pgphase_step_kind kind;
	const char *sql;
	const char *undo_sql;  /* NULL when nothing to undo */
	bool retry_lock;       /* lock_timeout (55P03) retries apply */
	const char *strategy;  /* static name; "as-written" when run as written */
	const char *reason;    /* why a statement a strategy would rewrite runs as written in
	                          its place (not moved, not batched), or NULL */
	bool reason_offline;   /* the reason is all an offline plan can tell (no table key
	                          without the catalog): planned with the database it may be
	                          made safe */
	int line, column;      /* origin statement in the UP file */
	const char *file;      /* borrowed from the migration */
	size_t origin;         /* index of the origin statement in the UP section */
	int stage;             /* order inside the phase: 0 prechecks, 1 changes, 2 validations */
	/* kind-specific */
	const char *target;    /* INDEX: index name; CHECK_NULLS: "table.column" (display) */
	/*
	 * BACKFILL: the engine's spec.  sql is the batch statement the engine sends first (one
	 * round trip, claiming its chunk) and open_sql the batch of a chunk claimed beforehand,
	 * both rendered by the engine's generator (pgphase_backfill_render), for display.
	 */
	const char *dml;       /* the UPDATE / DELETE / INSERT ... SELECT, deparsed */
	struct pgphase_backfill_key key; /* resolved at plan time; n == 0: a step kept only for
	                                    its number (its phase is done) */
	long batch_size;       /* -- pgphase:batch-size, 0 = configured size */
	const char *open_sql;
};

struct pgphase_plan {
	const struct pgphase_migration *migration; /* borrowed */
	struct pgphase_arena *arena; /* owned: the steps' strings and the planner's scratch */
	struct pgphase_step *steps;  /* owned (malloc'd) */
	size_t n, cap;
};

struct pgphase_plan_options {
	int pg_version; /* server major version, for version-dependent rewrites */
	/*
	 * The database, for catalog questions (keys, column types, dependent views, function
	 * volatility, binary-coercible casts).  NULL plans offline: answers come only from the
	 * migrations themselves.
	 */
	struct pgphase_session *session;
	/* The directory, so tables created by earlier (maybe unapplied) migrations are known. */
	struct pgphase_migration_set *set;
	const char *key; /* --key col[,col]: backfill key override, or NULL */
	/*
	 * Phases of this migration already finished (its state): their steps are planned only to
	 * keep step numbering stable, so a backfill key that cannot be found there is no error
	 * (e.g. contract after `backfill --key`, or a rollback).
	 */
	enum pgphase_phase done_through;
	/*
	 * Schema of the state tables, which backfill statements update with each batch.  NULL:
	 * the session's (offline: "pgphase").  An offline plan is told the configured one so it
	 * prints the statements a run will send.
	 */
	const char *state_schema;
	/*
	 * Refuse (exit 2, file:line:col and the reason) every statement that would run as
	 * written because pgphase cannot make it safer: kept in place by the ordering rule, a
	 * data change that cannot run in batches, a strategy declining.  Also taken from the
	 * session's config (strict = true).
	 */
	bool strict;
	/*
	 * A run's schema model carried from one migration to the next, for a caller that plans
	 * several migrations of set in version order (pgphase_plan_carry_new): each plan then
	 * starts from where the previous one ended instead of replaying every earlier pending
	 * migration again (linear over a directory instead of quadratic).  NULL: no carry.
	 */
	struct pgphase_plan_carry *carry;
};

/* A carried model (see pgphase_plan_options.carry); free it after the last plan using it. */
struct pgphase_plan_carry *pgphase_plan_carry_new(void);
void pgphase_plan_carry_free(struct pgphase_plan_carry *carry);

/*
 * Plan m (which must be parsed).  A statement a strategy would move to a later phase runs
 * as written in its place when a later statement (of m, or of a later migration of
 * opts->set) runs first and touches what it touches; so does a data change the engine
 * cannot batch; such steps carry a reason.  Input problems (BEGIN/COMMIT in a file pgphase
 * wraps, DDL in a BACKFILL section, an ordering conflict a phase marker fixes in place, a
 * column that views depend on, with strict any as-written fall-back) fail with exit code 2
 * and "file:line:col: ...", before anything changes (plan is then empty, nothing to release).
 * Release with pgphase_plan_release(), which frees the steps and the arena holding their
 * strings at once.
 */
int pgphase_plan_migration(struct pgphase_plan *plan, const struct pgphase_migration *m,
			   const struct pgphase_plan_options *opts, struct pgphase_error *err);
void pgphase_plan_release(struct pgphase_plan *plan);

/* Number of steps of a phase. */
size_t pgphase_plan_count(const struct pgphase_plan *plan, enum pgphase_phase phase);

/*
 * Print a plan: text (one line per step, phase, transaction mode, strategy, origin, SQL) or,
 * with json, one JSON object {"version","name","file","state","steps":[...]} per call.
 * state is the migration's current state name or NULL.
 */
void pgphase_plan_print_text(FILE *out, const struct pgphase_plan *plan, const char *state);
/* The plan as a JSON object (malloc'd compact text). */
char *pgphase_plan_json(const struct pgphase_plan *plan, const char *state);

/*
 * Why each UP statement of m runs as written although pgphase would rewrite it (kept in
 * place by the ordering rule, a data change it cannot batch, a strategy declining), planned
 * offline for PostgreSQL pg_version: an array of m->up.sql.n reasons, NULL where there is
 * none; NULL when m cannot be planned or has no UP statement.  The linter's ran-as-written
 * rule asks this.  Free with pgphase_plan_fallbacks_free (the array and its strings).
 */
char **pgphase_plan_fallbacks(const struct pgphase_migration *m, int pg_version);
void pgphase_plan_fallbacks_free(char **reasons, size_t n);

/*
 * The strategy registry as seen from outside (pgphase plan, lint --list-rules): name and
 * one-line summary of entry i, false past the end.
 */
bool pgphase_strategy_info(size_t i, const char **name, const char **summary);

/*
 * Which strategy the planner would use for statement node of m's UP section (at line:column,
 * with its note; NULL note: none), planning offline (no catalog) for PostgreSQL pg_version,
 * and the latest phase its steps land in.  An ALTER TABLE with several sub-commands is asked
 * about each, as the planner splits it: *name is the first strategy that applies, *phase the
 * latest phase.  False (name NULL, phase NONE) when the statement runs as written.  The
 * linter asks this through lint/planner.c.
 */
bool pgphase_plan_strategy_for(const struct pgphase_migration *m, const PgQuery__Node *node,
			       const struct pgphase_stmt_note *note, int line, int column,
			       int pg_version, const char **name, enum pgphase_phase *phase);

/*
 * Does the UPDATE or DELETE dml, a data change of plan's backfill, change what existed before
 * the migration (so its old values are kept for rollback)?  false when the undo of an expand
 * step of plan drops its table, or every column an UPDATE sets (src/plan/plan_undo.c).
 */
bool pgphase_plan_keeps_old(const struct pgphase_plan *plan, const PgQuery__Node *dml);

#endif
