/*
 * Private to the schema model (src/plan/plan_state.c: names, lookups, building and advancing;
 * src/plan/plan_state_apply.c: what each statement does to it).  The planner sees the model
 * only through plan_int.h.
 */
#ifndef PGPHASE_PLAN_STATE_H
#define PGPHASE_PLAN_STATE_H

#include "plan/plan_int.h"

/* ---- hash map: name -> value, newest first among equal names --------------------------- */

struct st_ent {
	const char *key;
	const char *schema; /* relations and indexes: the schema written ("" when none) */
	uint64_t h;
	void *val;
	struct st_ent *next;
};

struct st_map {
	struct st_ent **b;
	size_t nb, n;
};

/* ---- the model ------------------------------------------------------------------------- */

struct st_rel {
	struct plan_state_rel pub;
	struct st_map cols;     /* name -> struct plan_state_col */
	struct st_map cons;     /* constraint name -> struct st_con */
	const char *pk_name;    /* the primary key constraint's name, when the model knows it */
	struct st_map deps;     /* column name ("*": every column) -> what the replayed
	                           statements made depend on it (plan_state_deps.c) */
	bool forgotten;         /* a temporary table of an earlier migration's session */
};

struct st_con {
	bool gone;
};

struct st_idx {
	struct st_rel *rel;
	const char **cols; /* plain columns, NULL-terminated; NULL for expression indexes */
	bool gone;
};

struct plan_state {
	struct pgphase_arena *arena;
	bool own_arena;      /* the migration's cache: freed with it */
	const struct pgphase_migration *m;
	size_t pos;          /* statements of m replayed */
	bool current;        /* replaying m itself: what it creates is new */
	struct st_map rels;  /* relation name -> struct st_rel (tombstones: pub.gone) */
	struct st_map idx;   /* index name -> struct st_idx */
	struct st_rel **temps; /* this migration's temporary tables (arena array) */
	size_t n_temps, cap_temps;
	bool **fresh;        /* the is_new flags set while replaying m (arena array): cleared
	                        when a carried model moves on to the next migration */
	size_t n_fresh, cap_fresh;
};

/* Remember an is_new flag set for the migration being planned (see plan_state.fresh). */
void st_fresh(struct plan_state *st, bool *is_new);

/* ---- names (plan_state.c) ---- */

/* Add key -> val (newest first among equal keys); schema for relations and indexes. */
void st_map_put(struct pgphase_arena *a, struct st_map *m, const char *key, const char *schema,
		void *val);
/* The first entry named key after `after` (NULL: from the start), schema compatible when
 * schema is not NULL (an unqualified name matches any), or NULL. */
struct st_ent *st_map_find(const struct st_map *m, const char *key, const char *schema,
			   struct st_ent *after);
/* The live relation (schema, name), or NULL; *tombstone says the name was dropped or renamed
 * away. */
struct st_rel *st_rel_find(struct plan_state *st, const char *schema, const char *name,
			   bool *tombstone);
struct st_rel *st_rel_new(struct plan_state *st, const char *schema, const char *name);
void st_rel_tombstone(struct plan_state *st, const char *schema, const char *name);
/* The relation a statement changes: the model's, else a new entry for the catalog's. */
struct st_rel *st_rel_for_change(struct plan_state *st, const PgQuery__RangeVar *rv);
/* A relation created by a statement (temporary when rv says so). */
struct st_rel *st_rel_create(struct plan_state *st, const PgQuery__RangeVar *rv);
struct plan_state_col *st_col_find(struct st_rel *r, const char *name, bool *tombstone);
struct plan_state_col *st_col_new(struct plan_state *st, struct st_rel *r, const char *name);
/* The column a statement changes: the model's, else a new entry for the catalog's. */
struct plan_state_col *st_col_for_change(struct plan_state *st, struct st_rel *r,
					 const char *name);

/* ---- statements (plan_state_apply.c) ---- */

/* Replay one statement's effect on the model. */
void st_apply(struct plan_state *st, const PgQuery__Node *n);
/* What the statement makes depend on columns of existing tables (plan_state_deps.c). */
void st_apply_deps(struct plan_state *st, const PgQuery__Node *n);
/* The end of a migration: its temporary tables end with its session. */
void st_forget_temps(struct plan_state *st);

#endif
