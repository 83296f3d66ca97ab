/*
 * What hangs on a column that a rename or type change carries to the new column: the answers
 * of src/plan/plan_carry.c (catalog) that src/plan/plan_carry_sql.c turns into steps.  The
 * strategies see struct plan_carry only as an opaque pointer (strategies/strategy.h).  Every
 * string is in the plan's arena; identifiers are raw names, quoted where they are used, and
 * comments and option values are already SQL literals (the server's quote_literal).
 */
#ifndef PGPHASE_PLAN_CARRY_H
#define PGPHASE_PLAN_CARRY_H

#include "plan/plan_int.h"

/* A plain index (not behind a constraint) that uses the column. */
struct plan_carry_index {
	const char *schema, *name; /* raw */
	const char *def;           /* pg_get_indexdef */
	bool clustered;
	const char *comment;       /* literal, or NULL */
};

/* A constraint using the column (conkey) or referencing it (confkey). */
struct plan_carry_constraint {
	const char *schema, *table, *name; /* its own table (raw names) */
	char type;                         /* 'p', 'u', 'c', 'f' */
	const char *def;                   /* pg_get_constraintdef */
	const char *index_def;             /* p, u: pg_get_indexdef of its index */
	bool validated, deferrable, deferred, clustered;
	bool uses, references;             /* conkey / confkey name the column */
	const char *comment;               /* literal, or NULL */
};

struct plan_carry_grant {
	const char *grantee;   /* NULL: PUBLIC */
	const char *privilege; /* SELECT, INSERT, UPDATE, REFERENCES */
	bool grantable;
};

struct plan_carry {
	const PgQuery__RangeVar *rv;
	const char *column;       /* the old column (raw) */
	const char *new_column;   /* the column added in expand (raw) */
	const char *final_column; /* its name once contract is done (raw) */
	bool retype;
	const PgQuery__TypeName *type; /* the old column's, NULL when unknown */
	bool not_null;
	const PgQuery__Node *dflt; /* the default to give the new column, or NULL */
	const char *collate;       /* " COLLATE schema.name" for the new column, or "" */
	const char *comment;       /* literal, or NULL */
	int stattarget;            /* -1: default */
	const char *storage, *compression, *options; /* NULL: defaults */
	struct plan_carry_grant *grants;
	size_t n_grants;
	char **sequences; /* quoted, qualified: owned by the column */
	size_t n_sequences;
	struct plan_carry_index *indexes;
	size_t n_indexes;
	struct plan_carry_constraint *constraints;
	size_t n_constraints;
};

#endif
