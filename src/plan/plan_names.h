/*
 * Names of the objects strategies create, checked against the catalog (src/plan/plan_names.c):
 * free, the same object left by an earlier (killed) run, or taken by something else.  Also
 * the executor's check after CREATE INDEX ... IF NOT EXISTS.
 */
#ifndef PGPHASE_PLAN_NAMES_H
#define PGPHASE_PLAN_NAMES_H

#include <stdbool.h>

#include "base/arena.h"
#include "pgphase/session.h"
#include "strategies/strategy.h"

/* What the object of a name should be. */
struct plan_name_want {
	const PgQuery__RangeVar *rv; /* its table (the object lives in the table's schema) */
	char contype;                /* a constraint: 'c', 'f', 'u', 'p'; 0: an index */
	bool index;                  /* the name is also a relation's (an index, a UNIQUE or
	                                PRIMARY KEY constraint's index) */
	bool unique;                 /* an index: UNIQUE */
	const char *const *cols;     /* key columns, in order; "" for an expression */
	size_t n_cols;
};

/*
 * 1 the name is free, 0 it is taken by the wanted object (a rerun's), -1 taken by something
 * else (*what, may be NULL, says what: in a's arena), -2 the catalog could not be asked (err).
 */
int plan_name_state_in(struct pgphase_session *s, struct pgphase_arena *a,
		       const struct plan_name_want *w, const char *name, char **what,
		       struct pgphase_error *err);

/* The same for the planner: offline, or when the catalog does not answer, 1. */
int plan_name_state(struct plan_ctx *ctx, const struct plan_name_want *w, const char *name,
		    char **what);

/*
 * PostgreSQL's choice of a default name: a_b_label, then a_b_label1, a_b_label2, ... until
 * one is free or already the wanted object's.  helper: pgphase's own object, named by
 * sql_helper_name (hash-shortened) instead of PostgreSQL's truncation.
 */
char *plan_choose_name(struct plan_ctx *ctx, const struct plan_name_want *w, const char *a,
		       const char *b, const char *label, bool helper);

/* An explicit name taken by something else: exit 2 at the statement, "relation ... already
 * exists: <what>".  0 when free or the wanted object's. */
int plan_name_refuse_taken(struct plan_ctx *ctx, const struct strategy_input *in,
			   const struct plan_name_want *w, const char *name,
			   struct pgphase_error *err);

/* Is the table partitioned (online; offline false)?  Partitioned parents take no
 * CONCURRENTLY index build and no NOT VALID foreign key on PostgreSQL 15. */
bool plan_is_partitioned(struct plan_ctx *ctx, const PgQuery__RangeVar *rv);

#endif
