/*
 * Planner internals shared by src/plan*.c: the per-migration planning context.  Strategies
 * see it only as an opaque struct plan_ctx through strategies/strategy.h.  Everything the
 * planner allocates comes from the plan's arena.
 */
#ifndef PGPHASE_PLAN_INT_H
#define PGPHASE_PLAN_INT_H

#include "strategies/strategy.h"

/* A statement parsed for the planner (its tree has its own arena), kept until the end. */
struct plan_parsed {
	struct pgphase_sql sql;
	struct plan_parsed *next;
};

struct plan_state;

struct plan_ctx {
	struct pgphase_plan *plan;
	const struct pgphase_migration *m;
	struct pgphase_plan_options opts;
	struct pgphase_arena *arena; /* the plan's: strings, answers and scratch */
	struct plan_parsed *parsed;  /* in the arena; their trees released at the end */
	/* The schema model (src/plan/plan_state.c): NULL until first asked; in the arena, or
	   the migration's cache when planning without a directory.  pos: the statement being
	   planned (questions see the effects of the statements before it). */
	struct plan_state *state;
	size_t pos;
	bool strict;                 /* every as-written fall-back is an input error */
	/* per UP statement: its steps plan->steps[span_first[i] .. + span_n[i]] (in statement
	   order until the plan is sorted), and whether the ordering rule kept it in place */
	size_t *span_first, *span_n;
	bool *pinned;
};

/* Release the parsed statements (the arena goes with the plan). */
void plan_ctx_release(struct plan_ctx *ctx);

/*
 * Grow an arena array v of *cap elements of elem bytes to hold need (GROW for arenas: the
 * old copy stays in the arena until the plan is released).  Returns the array.
 */
void *plan_grow(struct plan_ctx *ctx, void *v, size_t *cap, size_t need, size_t elem);

/* The relation a statement works on (the table of ALTER/INDEX/UPDATE/...), or NULL. */
const PgQuery__RangeVar *plan_stmt_relation(const PgQuery__Node *node);

/*
 * The ordering rule (src/plan/plan_deps.c): a statement whose steps a strategy moved to a
 * later phase is replanned as written in its place when a later statement (of this
 * migration or a later one) runs earlier and touches what it touches; a conflict that a
 * phase marker fixes is an input error (exit 2).  Needs the spans; keeps them current.
 */
int plan_order(struct plan_ctx *ctx, struct pgphase_error *err);
/* Statements still using a table's old name after rename-table-via-view left a view. */
int plan_check_renamed_tables(struct plan_ctx *ctx, struct pgphase_error *err);
/* Replan UP statement i as written in its place, because of reason (plan.c). */
int plan_pinned(struct plan_ctx *ctx, size_t i, const char *reason, struct pgphase_error *err);

/*
 * What a statement touches (src/plan/plan_touch.c): add(arg, key, mode) per key.  A check
 * reads rows only to verify them (a unique index build, a constraint validation, a NULL
 * count): run after a later data change it verifies the newer rows, which psql's order would
 * have refused or verified alike, so only a change running after it conflicts.
 */
enum plan_touch_mode { PLAN_TOUCH_READ, PLAN_TOUCH_WRITE, PLAN_TOUCH_CHECK };
struct plan_touch_sink {
	void (*add)(void *arg, const char *key, enum plan_touch_mode mode);
	void *arg;
	struct pgphase_arena *arena; /* keys are built here */
	bool checking;               /* every read of rows is a check (a NULL count step) */
	bool generated;              /* a strategy's own SQL: its sync triggers and helper
	                                checks change no row's fate */
	/* The table of the unique index schema.name on the database, or NULL (unknown, not
	   unique, offline): a foreign key added later binds to that index (may be NULL). */
	const char *(*unique_index_table)(void *arg, const char *schema, const char *name);
};
void plan_touches(const PgQuery__Node *n, struct plan_touch_sink *sink);
/* A key in words: "the rows of \"t\"", "constraint \"c\" of \"t\"", ... */
const char *plan_touch_display(struct pgphase_arena *a, const char *key);

/*
 * A catalog question (src/plan/plan_model.c): the rows, or NULL offline or when the database
 * cannot answer (the planner then knows less; the run finds out).  PQclear() the result.
 */
PGresult *plan_ask(struct plan_ctx *ctx, const char *sql, int n, const char *const *params);

/* The as-written fallback: expand (or the marked phase), txn or none. */
int plan_as_written(struct plan_ctx *ctx, const struct strategy_input *in,
		    struct pgphase_error *err);
/* The DROP that undoes a creation plan_write.c has none for, or NULL (src/plan/plan_undo.c). */
char *plan_undo_create(struct plan_ctx *ctx, const PgQuery__Node *n, struct pgphase_error *err);

/* ---- the schema model (src/plan/plan_state.c) ------------------------------------------- */

/*
 * What the statements replayed so far did to one column.  Fields the migrations did not set
 * are the catalog's (type NULL, not_null -1, dflt_known false).
 */
struct plan_state_col {
	const char *name;              /* the column's name now */
	const char *catalog;           /* the catalog column it is; NULL when the migrations add it */
	const PgQuery__TypeName *type; /* the type the migrations gave it, or NULL */
	int not_null;                  /* 1, 0, or -1: the catalog's */
	bool dflt_known;               /* dflt is the answer (NULL: no default) */
	const PgQuery__Node *dflt;
	bool is_new;                   /* added earlier in the migration being planned */
	bool gone;                     /* dropped or renamed away */
};

/* What they did to one relation (a table, or a view the migrations create). */
struct plan_state_rel {
	const char *schema, *name;          /* its name now (schema "" when unqualified) */
	const char *cat_schema, *cat_name;  /* the catalog relation it is; NULL when created */
	bool created;      /* by CREATE TABLE [AS] / SELECT INTO / CREATE VIEW in the migrations */
	bool is_new;       /* created earlier in the migration being planned */
	bool temp;         /* a temporary table (lives in the migration's session) */
	bool partitioned;  /* created with PARTITION BY */
	bool all_columns;  /* a plain CREATE TABLE: the model knows every column */
	bool maybe_old;    /* CREATE ... IF NOT EXISTS: the table may have been there already */
	bool gone;         /* dropped or renamed away */
	const char **key;  /* key columns the migrations tell (primary key), NULL-terminated */
	bool key_known;    /* key is the answer even when NULL (created, or key added/dropped) */
};

/*
 * The model at statement before of the migration being planned: earlier pending migrations
 * replayed (those not complete on the database; offline every earlier one), then this
 * migration's statements [0, before).  Also moves ctx->pos to before.  Never NULL.
 */
struct plan_state *plan_state_at(struct plan_ctx *ctx, size_t before);
/* The run's slot for a cache that lives as long as the carried model (opts.carry), with
 * its arena; NULL without a carry. */
void **plan_carry_slot(struct plan_ctx *ctx, struct pgphase_arena **arena);
/* The end of planning ctx->m: a carried model (opts.carry) moves past its statements. */
void plan_state_finish(struct plan_ctx *ctx);
/* The model's entry for the relation rv names, or NULL when no statement touched the name. */
const struct plan_state_rel *plan_state_rel(struct plan_state *st, const PgQuery__RangeVar *rv);
/* The model's entry for a column of rel, or NULL when no statement touched it. */
const struct plan_state_col *plan_state_col(struct plan_state *st,
					    const struct plan_state_rel *rel, const char *column);
/*
 * What an earlier statement (of this migration or an earlier pending one) made depend on
 * column (its name now, or the catalog's) of rel, a table the database has: "an index an
 * earlier statement creates", ...; NULL when nothing (or rel is NULL, gone or created).
 */
const char *plan_state_dependent(const struct plan_state_rel *rel, const char *column,
				 const char *catalog_column);
/*
 * Does a relation or index called name (schema NULL or "": unqualified) exist at statement
 * `before` because the statements before it (this migration's and earlier pending ones')
 * created it or renamed something to it?  The catalog does not show it yet.
 */
bool plan_name_created(struct plan_ctx *ctx, const char *schema, const char *name, size_t before);
/*
 * Did the statements before `before` (this migration's and earlier pending ones') drop or
 * rename away the relation or index called name (schema NULL or "": any)?  The catalog still
 * shows it at plan time, but it is gone when the statement runs.
 */
bool plan_name_freed(struct plan_ctx *ctx, const char *schema, const char *name, size_t before);

#endif
