/*
 * The strategy interface: how a zero-downtime rewrite plugs into the planner (src/plan/plan.c).
 *
 * A strategy is one file strategies/<name>.c exporting one const struct pgphase_strategy
 * built with designated initialisers.  matches() looks at one statement (an ALTER TABLE with
 * several sub-commands arrives split, one sub-command per call) and says whether the
 * strategy handles it; plan() appends the steps.  Everything else in the file is static.
 *
 * To add a strategy:
 *   1. write strategies/<name>.c exporting `const struct pgphase_strategy strategy_<name>`;
 *   2. declare it at the end of this header;
 *   3. add it to pgphase_strategies[] in strategies/registry.c (order matters: the first
 *      match wins, so put specific strategies before general ones);
 *   4. add tests/check_strategies*.c cases asserting the planned SQL and the catalog end
 *      state, and a crash-resume case.
 *
 * The helpers below (src/plan/plan_sql.c, src/plan/plan_model.c) build SQL only through libpg_query's
 * deparser: templates hold identifiers quoted by quote_ident_always() and placeholders that
 * are replaced by nodes of the user's statement; nothing splices user SQL text.
 *
 * Memory: every string and scratch array a strategy gets or builds comes from the plan's
 * arena (plan_arena(); base/arena.h for arena_printf and friends) and lives until the plan is
 * released, so strategies free nothing.
 */
#ifndef PGPHASE_STRATEGY_H
#define PGPHASE_STRATEGY_H

#include <stdbool.h>

#include "base/arena.h"
#include "pgphase/plan.h"
#include "sql/tree.h"

struct plan_ctx; /* planner state for one migration (src/plan/plan.c) */

/* One statement as a strategy sees it. */
struct strategy_input {
	const PgQuery__Node *node;            /* the statement, or one split ALTER TABLE cmd */
	const struct pgphase_stmt *stmt;      /* origin in the file */
	const struct pgphase_stmt_note *note; /* explicit phase, as-is, batch size */
	size_t origin;                        /* index of stmt in the UP section */
};

struct pgphase_strategy {
	const char *name;
	const char *summary;
	bool (*matches)(struct plan_ctx *ctx, const struct strategy_input *in);
	int (*plan)(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err);
	/* The phase plan() puts the statement's last step in — where the part that would
	   break the running app lands — answered without planning (the linter asks it of
	   every hazardous statement; check_strategies holds it to plan()'s answer). */
	enum pgphase_phase (*last_phase)(const struct strategy_input *in);
};

/* The registry: NULL-terminated, first match wins (strategies/registry.c). */
extern const struct pgphase_strategy *const pgphase_strategies[];

/* ---- planner services (src/plan/plan.c) ----------------------------------------------------- */

/* The plan's arena: what a strategy allocates lives there until pgphase_plan_release(). */
struct pgphase_arena *plan_arena(struct plan_ctx *ctx);
/*
 * Append a step for in: phase dflt_phase, moved later when the statement's explicit marker
 * names a later phase (single-phase strategies pass plan_phase(in, ...) to let the marker
 * override them fully); txn mode; SQL and undo SQL (or NULL), both in the plan's arena.
 * retry_lock is set for txn/own steps.
 */
struct pgphase_step *plan_add(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			      const struct strategy_input *in, enum pgphase_phase dflt_phase,
			      enum pgphase_txn_mode txn, const char *sql, const char *undo_sql);
/* Phase the statement lands in: its explicit marker, else dflt. */
enum pgphase_phase plan_phase(const struct strategy_input *in, enum pgphase_phase dflt);
/* dflt moved up to the statement's phase marker, as plan_add() places a multi-phase step */
enum pgphase_phase plan_phase_raised(const struct strategy_input *in, enum pgphase_phase dflt);
/*
 * The statement cannot be made safer (reason says why, for `plan`, the step's reason and the
 * ran-as-written lint finding): run it as written in its place, as if no strategy matched.
 * With strict (config strict = true, --strict) it is an input error instead (exit 2).
 */
int plan_as_written_because(struct plan_ctx *ctx, const struct strategy_input *in,
			    const char *reason, struct pgphase_error *err);
/* Steps planned so far, and: mark the reasons of the steps from first on as offline-only. */
size_t plan_step_count(struct plan_ctx *ctx);
void plan_mark_offline(struct plan_ctx *ctx, size_t first, bool offline);
/* Plan-time input error at the statement: exit 2, "file:line:col: message". */
int plan_fail(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Options in force (pg_version, session, key override). */
const struct pgphase_plan_options *plan_options(struct plan_ctx *ctx);
/* Append a backfill step: the engine's spec for the UPDATE, DELETE or INSERT ... SELECT node
 * (src/plan/plan_backfill.c). */
int plan_backfill(struct plan_ctx *ctx, const struct pgphase_strategy *by,
		  const struct strategy_input *in, const PgQuery__Node *dml, struct pgphase_error *err);
/* The same for our own statement text (parsed and kept until the plan is done). */
int plan_backfill_text(struct plan_ctx *ctx, const struct pgphase_strategy *by,
		       const struct strategy_input *in, const char *sql, struct pgphase_error *err);

/* ---- SQL building (src/plan/plan_sql.c) ----------------------------------------------------- */

/*
 * What replaces a placeholder in a template: node replaces the column reference
 * pgphase_slot_<name>; type replaces the type name pgphase_type_<name>.
 */
struct sql_graft {
	const char *name;
	const PgQuery__Node *node;
	const PgQuery__TypeName *type;
};

/*
 * Every string these return is in ctx's arena (plan_arena()).
 *
 * Parse text (one or more statements), replace placeholders by grafts, deparse, and return
 * the statements joined with ";\n", or NULL with err set.
 */
char *sql_render(struct plan_ctx *ctx, const char *text, const struct sql_graft *grafts,
		 size_t n, struct pgphase_error *err);
/* printf, then sql_render with no grafts (normalises quoting through the deparser). */
char *sql_renderf(struct plan_ctx *ctx, struct pgphase_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Deparse one statement node. */
char *sql_deparse(struct plan_ctx *ctx, const PgQuery__Node *node, struct pgphase_error *err);
/* Always-quoted identifier. */
char *sql_ident(struct plan_ctx *ctx, const char *name);
/* Quoted, optionally schema-qualified relation name of rv. */
char *sql_rel(struct plan_ctx *ctx, const PgQuery__RangeVar *rv);
/* Display name "schema.rel" or "rel" (unquoted). */
char *sql_rel_display(struct plan_ctx *ctx, const PgQuery__RangeVar *rv);
/* A PostgreSQL-style object name: "<a>_<b>_<suffix>" truncated so it fits in 63 bytes; b may
 * be NULL. */
char *sql_object_name(struct plan_ctx *ctx, const char *a, const char *b, const char *suffix);
/* A name pgphase makes for its own helper object (check, trigger, function):
 * "<a>_<b>_<suffix>", or when longer than 63 bytes its start, "_", 8 hex digits of the
 * SHA-256 of the whole name and "_<suffix>" (deterministic, unique in practice). */
char *sql_helper_name(struct plan_ctx *ctx, const char *a, const char *b, const char *suffix);
/* Does the deparser give back exactly node's statement (parsed again, locations aside)?
 * Strategies that rebuild a user's statement refuse to match when not: libpg_query's
 * deparser drops a few clauses (a constraint's NULLS NOT DISTINCT and WITH options, an FK's
 * ON DELETE SET NULL (columns)), and the statement then runs as written. */
bool sql_round_trips(struct plan_ctx *ctx, const PgQuery__Node *node);
/* The string of a String node, or NULL. */
const char *sql_str(const PgQuery__Node *n);
/* The first column referenced anywhere under msg, or NULL. */
const char *sql_first_column(const ProtobufCMessage *msg);

/* A parsed statement kept alive until the plan is done (owned by ctx). */
const PgQuery__Node *plan_parse_node(struct plan_ctx *ctx, const char *sql,
				     struct pgphase_error *err);

/* ---- catalog questions (src/plan/plan_model.c) ---------------------------------------------- */

/*
 * The schema model (src/plan/plan_state.c) sees every statement before statement `before` of
 * the migration (an index into its UP section: strategies pass in->origin), after the
 * earlier migrations that are not complete on the database.  Questions without `before`
 * are about the statement being planned.
 */
/* Is the relation created earlier in this migration, a temporary table included (so it
 * needs no zero-downtime care)?  `ALTER TABLE t RENAME TO t_old; CREATE TABLE t ...`: the
 * new t is new, t_old is not. */
bool plan_is_new_table(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, size_t before);
/* Is the column added earlier in this migration (or its table new)? */
bool plan_is_new_column(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column,
			size_t before);
/* The relation on the database that rv names now: rv itself when no statement touched the
 * name, the catalog name of a table the migrations renamed, NULL for one they created or
 * dropped.  In ctx's arena (or rv). */
const PgQuery__RangeVar *plan_catalog_name(struct plan_ctx *ctx, const PgQuery__RangeVar *rv);
/* Does the statement read or write a temporary table (one the migrations create, or one
 * named in pg_temp)?  Such a data change cannot run in batches: the backfill engine works
 * on other sessions, where the table does not exist. */
bool plan_reads_temp_table(struct plan_ctx *ctx, const PgQuery__Node *node, size_t before);
/* Does the statement run as written, whatever strategy would match: -- pgphase:as-is, a
 * table new in this migration, a temporary table, or only columns added earlier in this
 * migration (rename, type, NOT NULL, default, drop)?  The planner and the linter ask it
 * before the registry. */
bool plan_runs_as_written(struct plan_ctx *ctx, const struct strategy_input *in);

/* Key columns of the table as the migrations tell them (--key, else the primary key its
 * CREATE TABLE or ADD PRIMARY KEY declares; for a table the migrations renamed, the catalog
 * key of the table it was; else the catalog's is pgphase_backfill_key's), a NULL-terminated
 * list in ctx's arena; NULL when none can be found. */
char **plan_table_key(struct plan_ctx *ctx, const PgQuery__RangeVar *rv);
/* What the model (a column the migrations added or changed) and the catalog say about a
 * column; nodes kept by ctx. */
struct plan_column {
	const PgQuery__TypeName *type; /* never NULL when found */
	bool not_null;
	const PgQuery__Node *dflt;     /* default expression, or NULL */
};
/* false when the column cannot be found. */
bool plan_column_info(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column,
		      struct plan_column *out);
/* Views depending on the column, comma-separated (arena), or NULL (none, or offline). */
char *plan_dependent_views(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column);
/* Would ALTER COLUMN ... TYPE tn (without USING) need no rewrite?  false when unknown. */
bool plan_binary_coercible(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column,
			   const PgQuery__TypeName *tn);
/* Does the expression call a volatile function (catalog when online, a known list offline)? */
bool plan_expr_volatile(struct plan_ctx *ctx, const PgQuery__Node *expr);

/* ---- the strategies -------------------------------------------------------------------- */

extern const struct pgphase_strategy strategy_create_index_concurrently;
extern const struct pgphase_strategy strategy_drop_index_concurrently;
extern const struct pgphase_strategy strategy_add_foreign_key_not_valid;
extern const struct pgphase_strategy strategy_add_check_not_valid;
extern const struct pgphase_strategy strategy_set_not_null_via_check;
extern const struct pgphase_strategy strategy_add_required_column;
extern const struct pgphase_strategy strategy_add_column_volatile_default;
extern const struct pgphase_strategy strategy_add_unique_using_index;
extern const struct pgphase_strategy strategy_defer_destructive_to_contract;
extern const struct pgphase_strategy strategy_rename_column_via_sync_trigger;
extern const struct pgphase_strategy strategy_rename_table_via_view;
extern const struct pgphase_strategy strategy_change_column_type_via_shadow_column;
extern const struct pgphase_strategy strategy_data_change_to_backfill;

/* Shared by strategies: the NOT NULL sequence (check NOT VALID, validate, SET NOT NULL). */
int plan_not_null_steps(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			const struct strategy_input *in, const PgQuery__RangeVar *rv,
			const char *column, bool check_in_expand, struct pgphase_error *err);
/*
 * ADD CONSTRAINT (FOREIGN KEY or CHECK) as NOT VALID named name in expand, and VALIDATE in its
 * own transaction at the end of backfill.
 */
int plan_constraint_not_valid(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			      const struct strategy_input *in, const char *name,
			      struct pgphase_error *err);
/*
 * A column change both apps live through: contract drops the old column, so views on it
 * refuse the change (exit 2, "cannot <what> "column" of "table" without downtime: views
 * depend on it (...)").  0 when none do.
 */
int plan_refuse_dependent_views(struct plan_ctx *ctx, const struct strategy_input *in,
				const PgQuery__RangeVar *rv, const char *column, const char *what,
				struct pgphase_error *err);
/* A new column kept in step with an old one by a trigger while old and new apps write. */
struct plan_sync {
	const PgQuery__RangeVar *rv;    /* the table */
	const char *column, *suffix;    /* trigger and function: <table>_<column>_<suffix> */
	const char *new_column;         /* quoted */
	const PgQuery__TypeName *type;  /* the new column's */
	const char *collate;            /* " COLLATE ..." for the new column, or NULL */
	const char *undo_first;         /* SQL text the column's undo runs before dropping it
	                                   (constraints of other tables referencing it), or NULL */
	const char *body;               /* the function's plpgsql body, " BEGIN ... END " */
	const char *unsync;             /* out: SQL text dropping the trigger and its function,
	                                   for contract (not yet rendered) */
};
/*
 * Expand: ADD COLUMN new_column (undo: DROP COLUMN IF EXISTS), then the function and a
 * BEFORE INSERT OR UPDATE trigger running it for each row (undo: drop both), one transaction.
 */
int plan_sync_column(struct plan_ctx *ctx, const struct pgphase_strategy *by,
		     const struct strategy_input *in, struct plan_sync *s,
		     struct pgphase_error *err);
/*
 * Carrying what hangs on a column (indexes, constraints both ways, NOT NULL, default,
 * collation, comment, privileges, statistics, owned sequences) to the column that replaces
 * it, for rename-column-via-sync-trigger and change-column-type-via-shadow-column
 * (src/plan/plan_carry.c, src/plan/plan_carry_sql.c).  The end schema is the one the
 * statement as written gives; only the column's position differs.
 */
struct plan_carry;
/*
 * Why what depends on the column cannot be carried without downtime or exactly (identity,
 * generated, partitioned or inherited table, replica identity index, views, triggers,
 * policies, exclusion constraints, ...: "<what> depends on it"), or NULL when it can (and
 * offline, when nothing is known).  The strategy then does not match: the statement runs as
 * written.  In the plan's arena.
 */
const char *plan_carry_blocker(struct plan_ctx *ctx, const PgQuery__RangeVar *rv,
			       const char *column);
/* The same for other sub-commands of in's whole ALTER TABLE on the column, or NULL. */
const char *plan_carry_sibling_blocker(const struct strategy_input *in, const char *column);
/*
 * What to carry from column (catalog, plus DROP NOT NULL / DROP DEFAULT in the same
 * statement when retype is given) to new_column, named final_column after contract; retype
 * is the type change's column definition (its COLLATE), NULL for a rename (the old column's
 * collation).  Never NULL.
 */
struct plan_carry *plan_carry_load(struct plan_ctx *ctx, const struct strategy_input *in,
				   const PgQuery__RangeVar *rv, const char *column,
				   const char *new_column, const char *final_column,
				   const PgQuery__ColumnDef *retype);
/* " COLLATE ..." for the new column's ADD COLUMN, or "". */
const char *plan_carry_collate(const struct plan_carry *c);
/* SQL text (unrendered) dropping the carried constraints, for the new column's undo: a
 * rollback after backfill undoes only expand, and DROP COLUMN fails while foreign keys
 * reference the new column; "" when none. */
const char *plan_carry_undo_first(struct plan_ctx *ctx, const struct plan_carry *c);
/* End of backfill: NOT NULL check validated, indexes built CONCURRENTLY under temporary
 * names, constraints added NOT VALID and validated. */
int plan_carry_backfilled(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			  const struct strategy_input *in, const struct plan_carry *c,
			  struct pgphase_error *err);
/* Contract's one transaction: what must happen before middle (the strategy's own SQL text:
 * drop trigger and old column, rename), middle, then names, keys and properties; rendered. */
char *plan_carry_contract(struct plan_ctx *ctx, const struct plan_carry *c, const char *middle,
			  struct pgphase_error *err);
/* The (split) ALTER TABLE statement deparsed with its one sub-command replaced by cmd. */
char *strategy_alter_deparse(struct plan_ctx *ctx, const struct strategy_input *in,
			     const PgQuery__AlterTableCmd *cmd, struct pgphase_error *err);
/* The same with the sub-command's constraint replaced by con. */
char *strategy_constraint_deparse(struct plan_ctx *ctx, const struct strategy_input *in,
				  const PgQuery__Constraint *con, struct pgphase_error *err);
/* ADD COLUMN (a split single-command ALTER TABLE) without NOT NULL, and without DEFAULT
 * when drop_default, in expand, with DROP COLUMN IF EXISTS as undo (add_required_column.c). */
int strategy_add_nullable_column(struct plan_ctx *ctx, const struct pgphase_strategy *by,
				 const struct strategy_input *in, bool drop_default,
				 struct pgphase_error *err);
/* The ALTER TABLE sub-command of a (split) statement, or NULL. */
const PgQuery__AlterTableCmd *strategy_alter_cmd(const struct strategy_input *in,
						 PgQuery__AlterTableType subtype);
/* The column an ADD COLUMN (split) statement adds, or NULL. */
const PgQuery__ColumnDef *strategy_added_column(const struct strategy_input *in);
/* The column's first constraint of type t, or NULL. */
const PgQuery__Constraint *strategy_column_constraint(const PgQuery__ColumnDef *cd,
						      PgQuery__ConstrType t);

#endif
