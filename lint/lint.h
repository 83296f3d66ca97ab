/*
 * Private to lint/: the run context, the statement view rules receive, the schema model
 * built while walking a directory, and AST helpers.  Rules include this header; nothing
 * outside lint/ does.  The tree walk and the volatility table are src/sql/tree.h's.
 *
 * A rule's check reads st->node (the typed protobuf parse tree) and calls lint_report(); the
 * engine decides the final severity (phase, strategy hook, config, ignores), so rules never
 * look at options other than pg_version and raw.
 */
#ifndef PGPHASE_LINT_PRIVATE_H
#define PGPHASE_LINT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <pg_query/pg_query.pb-c.h>

#include "pgphase/lint.h"
#include "pgphase/sql.h"
#include "pgphase/migration.h"
#include "sql/tree.h"

#define LINT_NAME_MAX 200 /* buffer for a printable qualified name */
#define LINT_KEY_MAX 400  /* buffer for a model key */
#define LINT_NAMEDATALEN 64 /* PostgreSQL identifiers are at most 63 bytes */

/* A -- pgphase:ignore directive and the statement it applies to. */
struct lint_ignore {
	const struct pgphase_marker *marker;
	char **ids;    /* rule ids (owned) */
	bool *used;    /* per id: silenced a finding */
	size_t n_ids;
	size_t stmt;   /* index of the statement it applies to, SIZE_MAX when none */
};

/* One section (UP or DOWN) of one file, as the front end read it, ready for the rules. */
struct lint_section {
	const char *file;       /* display path */
	const char *text;       /* borrowed: file text with bytes outside the section blanked */
	size_t text_len;
	bool down;
	bool broken;            /* the front end found a syntax error in it */
	struct pgphase_lint_stmt *stmts;
	size_t n, cap;
	const struct pgphase_stmt_note *notes; /* borrowed from the front end, one a statement */
	struct lint_ignore *ignores; /* in statement order */
	size_t n_ignores;
	size_t *line_starts;    /* lazily built line index */
	size_t n_lines;
	size_t pos_off, pos_line; /* last position computed (offset, 0-based line) ... */
	int pos_col;            /* ... and its column: nearby offsets count from there */
};

/* The statement a rule looks at. */
struct pgphase_lint_stmt {
	const PgQuery__Node *node;
	struct lint_section *sec;
	size_t offset, end;     /* first token and one past the last byte, in sec->text */
	size_t base;            /* node locations are byte offsets from sec->text + base */
	size_t index;           /* in the section */
	enum pgphase_phase phase; /* explicit phase marker in force (NONE when unplaced) */
	bool as_is;             /* -- pgphase:as-is */
	bool down;
};

/* A hash map from string keys to small records: the schema model. */
struct lint_obj {
	char *key;       /* owned */
	int migration;   /* sequence number of the migration that created / added it */
	int txn;         /* transaction counter at that point */
	bool validated;  /* constraints: validated; checks: proves NOT NULL */
	const PgQuery__TypeName *type; /* columns: declared type */
	const PgQuery__Node *expr;     /* constraints: the CHECK expression */
	PgQuery__Node *const *items;   /* partition keys: PartitionElem list */
	size_t n_items;
};

/* Open addressing over small slots (hash + object); objects live in blocks, so a pointer
 * to one stays valid as the map grows. */
#define LINT_MAP_BLOCK 256
struct lint_slot {
	uint64_t hash;
	struct lint_obj *obj; /* NULL: empty */
};
struct lint_map {
	struct lint_slot *slots;
	size_t cap, n;
	struct lint_obj **objs; /* n objects, LINT_MAP_BLOCK per block */
	size_t n_blocks;
};

/* Findings and ignore uses waiting for the whole unit (lint/pending.c). */
struct lint_pending {
	const char *key; /* index key asked about, between lint_pending_begin() and _end() */
	struct lint_pending_finding {
		size_t seq; /* index in the result's findings */
		char *key;
	} *findings;
	size_t n_findings, cap_findings;
	struct lint_pending_use { /* the current statement's ignores that silenced one */
		const struct lint_ignore *ig;
		size_t k;
		char *key;
	} *uses;
	size_t n_uses, cap_uses;
	struct lint_pending_ignore { /* ignores that silenced only pending findings */
		char *file, *id;
		int line, column;
		char **keys;
		size_t n_keys;
	} *ignores;
	size_t n_ignores, cap_ignores;
};

struct pgphase_lint_ctx {
	const struct pgphase_lint_options *opts;
	struct pgphase_lint_result *res;
	int pg_version;
	bool raw;
	/* severity overrides by registry index: -1 default, else the severity; and filters */
	signed char *override;
	bool *disabled;
	size_t n_rules;
	/* the rule being run and its registry index */
	const struct pgphase_lint_rule *rule;
	size_t rule_index;
	/* where we are */
	const struct pgphase_migration *m;
	bool no_transaction;    /* the migration runs outside a transaction */
	bool named;             /* the file has a migration name (not a loose SQL file) */
	bool linting;           /* false while walking context-only migrations */
	bool has_down;          /* the migration has a DOWN section or .down.sql file */
	int mig_seq;            /* the current migration's number, unique in the process */
	int txn;                /* bumped at each COMMIT / ROLLBACK */
	bool in_txn_block;      /* inside an explicit BEGIN ... COMMIT */
	int enum_txn;           /* txn of the last ALTER TYPE ... ADD VALUE (values pending) */
	size_t statements_linted;
	struct lint_section *sec;
	struct lint_map model;  /* the schema as the migrations so far leave it */
	struct pgphase_arena *model_arena; /* copies of the nodes the model points to */
	struct lint_map indexes; /* every index in the directory: "table\x1fcol,col" prefixes */
	struct lint_map files;  /* display path → index in res->files (obj.migration) */
	struct lint_pending pending;
};

/* ---- pending.c: findings that depend on migrations not read yet ---- */

void lint_pending_begin(struct pgphase_lint_ctx *ctx, const char *key);
void lint_pending_end(struct pgphase_lint_ctx *ctx);
void lint_pending_finding(struct pgphase_lint_ctx *ctx, size_t seq);
void lint_pending_use(struct pgphase_lint_ctx *ctx, const struct lint_ignore *ig, size_t k);
/* An ignore id that silenced only pending findings: true when recorded for settling. */
bool lint_pending_defer_ignore(struct pgphase_lint_ctx *ctx, const struct lint_section *sec,
			       const struct lint_ignore *ig, size_t k);
void lint_pending_next_statement(struct pgphase_lint_ctx *ctx);
void lint_pending_settle(struct pgphase_lint_ctx *ctx);
void lint_pending_release(struct pgphase_lint_ctx *ctx);
void lint_report_unused_ignore(struct pgphase_lint_ctx *ctx, const char *file, int line,
			       int column, const char *id);

/* ---- files.c: paths → units (a directory, or files with their siblings as context) ---- */

/* One migration to lint: a single file, an .up.sql/.down.sql pair, or an orphan .down.sql. */
struct lint_file {
	struct pgphase_migration *m; /* borrowed: in the unit's set, or one of its loose files */
	bool named;             /* has a migration file name (not a loose SQL file) */
	bool lint;              /* report findings (false: context for the files linted) */
	struct lint_section up, down;
};

struct lint_unit {
	char *dir;              /* owned directory as given */
	char *prefix;           /* owned display prefix: "dir/" or "" (the front end lists it) */
	bool whole;             /* a directory argument: every file is linted */
	char **only;            /* owned basenames to lint when !whole */
	size_t n_only;
	struct pgphase_migration_set set; /* the front end's listing of the directory */
	struct pgphase_migration *loose;  /* files named on the command line that the listing
	                                     does not hold (n_only slots, n_loose used) */
	size_t n_loose;
	struct lint_file *files; /* version order after lint_unit_list */
	size_t n, cap;
};

/* Group paths into units; a path that does not exist is a usage error. */
int lint_units_build(const char *const *paths, size_t n, struct lint_unit **units,
		     size_t *n_units, struct pgphase_error *err);
/* List a unit through the front end, in version order; naming problems become findings.
 * Fails only for an unreadable directory. */
int lint_unit_list(struct pgphase_lint_ctx *ctx, struct lint_unit *u, struct pgphase_error *err);
/* Read one file of the unit through the front end; its problems become findings.  Fails only
 * when the file cannot be read. */
int lint_file_load(struct pgphase_lint_ctx *ctx, struct lint_file *f, struct pgphase_error *err);
/* Release a file's sections and what the front end read (its names stay). */
void lint_file_release(struct lint_file *f);
void lint_unit_release(struct lint_unit *u);
/* Report front-end problems as findings of the rule each kind maps to. */
void lint_report_problems(struct pgphase_lint_ctx *ctx, const struct pgphase_problems *p);
/* The lint rule a front-end problem kind is reported as. */
const struct pgphase_lint_rule *lint_rule_for_problem(enum pgphase_problem_kind kind);

/* Rules the engine reports itself (lint/rule_hygiene.c); the input rules are what front-end
 * problems become (lint_rule_for_problem). */
extern const struct pgphase_lint_rule lint_rule_syntax_error, lint_rule_duplicate_version,
	lint_rule_bad_file_name, lint_rule_unknown_directive, lint_rule_malformed_migration,
	lint_rule_ignore_unknown_rule, lint_rule_ignore_unused;

/* ---- engine.c ---- */

/*
 * Report a finding of the running rule on st.  location is a parse-tree location (byte
 * offset relative to st->base) or -1 for the statement start.  help is the safe alternative.
 */
void lint_report(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st, int location,
		 const char *help, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Report rule at a file position (line/column 1-based; column 0 means 1). */
void lint_report_file(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_rule *rule,
		      const char *file, int line, int column, const char *help, const char *fmt,
		      ...) __attribute__((format(printf, 7, 8)));
/* Register a display path in the result's file table; returns its index. */
size_t lint_file_index(struct pgphase_lint_ctx *ctx, const char *path);

/* ---- source.c: front-end sections as rule input, positions ---- */

/* A front-end section as statements, notes and ignores; the trees stay the front end's. */
void lint_section_build(struct lint_section *sec, const struct pgphase_section *s, bool down);
void lint_section_release(struct lint_section *sec);
/* 1-based line and column (characters) of byte offset off in sec->text.  Cost: a binary
 * search for the line, then counting characters from the previous position when it is on the
 * same line (so a file that is one huge line stays linear), else from the line start. */
void lint_position(struct lint_section *sec, size_t off, int *line, int *column);
/* Index of the first ignore applying to statement stmt or a later one (ignores are in
 * statement order). */
size_t lint_first_ignore(const struct lint_section *sec, size_t stmt);
/* Absolute offset of a parse-tree location of st (-1: the statement start). */
size_t lint_offset(const struct pgphase_lint_stmt *st, int location);

/* ---- model.c: what earlier statements created, directory-wide indexes ---- */

void lint_map_release(struct lint_map *m);
struct lint_obj *lint_map_get(const struct lint_map *m, const char *key);
struct lint_obj *lint_map_put(struct lint_map *m, const char *key);

/* Record the indexes a statement creates (first pass over the whole directory). */
void lint_model_indexes(struct pgphase_lint_ctx *ctx, const PgQuery__Node *node);
/* Apply a statement's effect on the model (after its checks ran). */
void lint_model_apply(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st);

/* Table (or view, index, sequence) created earlier in the current migration. */
bool lint_table_is_new(const struct pgphase_lint_ctx *ctx, const PgQuery__RangeVar *rv);
bool lint_relname_is_new(const struct pgphase_lint_ctx *ctx, const char *relname);
/* Column added earlier in the current migration (or its table is new). */
bool lint_column_is_new(const struct pgphase_lint_ctx *ctx, const char *table, const char *col);
/* Declared type of a column known from earlier statements, or NULL. */
const PgQuery__TypeName *lint_column_type(const struct pgphase_lint_ctx *ctx, const char *table,
					  const char *col);
/* A validated CHECK (col IS NOT NULL) on table exists. */
bool lint_not_null_proven(const struct pgphase_lint_ctx *ctx, const char *table, const char *col);
/* A validated CHECK on table mentions col (col NULL: any validated CHECK on table). */
bool lint_column_checked(const struct pgphase_lint_ctx *ctx, const char *table, const char *col);
/* The constraint was added NOT VALID in the current transaction of this migration. */
bool lint_constraint_added_here(const struct pgphase_lint_ctx *ctx, const char *table,
				const char *name);
/* Some index anywhere in the directory has exactly cols (any order) as leading columns. */
/* "table\x1fcol,col": the key of an index on cols (sorted), as lint_has_index() looks up. */
const char *lint_index_key(char buf[LINT_KEY_MAX], const char *table, const char **cols, size_t n);
bool lint_has_index(const struct pgphase_lint_ctx *ctx, const char *table, const char **cols,
		    size_t n);
/* The partition key (PartitionElem nodes) of a table created in the directory, or NULL. */
PgQuery__Node *const *lint_partition_key(const struct pgphase_lint_ctx *ctx, const char *table,
					 size_t *n);
/* Object of kind ('t' type, 'f' function, 'v' view, 'x' trigger, 'c' constraint, ...)
 * created earlier in the current migration. */
bool lint_object_is_new(const struct pgphase_lint_ctx *ctx, char kind, const char *name);
/* Enum value added in the current transaction of this migration. */
bool lint_enum_value_added_here(const struct pgphase_lint_ctx *ctx, const char *value);

/* ---- ast.c: reading the parse tree ---- */

/* sval of a String node, else NULL. */
const char *lint_str(const PgQuery__Node *n);
/* Last String of a name list ("public.orders" → "orders"), or "". */
const char *lint_last_name(PgQuery__Node *const *names, size_t n);
/* Dotted name of a name list / List node / RangeVar / TypeName into buf. */
const char *lint_names(PgQuery__Node *const *names, size_t n, char buf[LINT_NAME_MAX]);
const char *lint_object_name(const PgQuery__Node *obj, char buf[LINT_NAME_MAX]);
const char *lint_rv_name(const PgQuery__RangeVar *rv, char buf[LINT_NAME_MAX]);
const char *lint_type_sql(const PgQuery__TypeName *tn, char buf[LINT_NAME_MAX]);
/* Base name of a type ("varchar", "int4", "serial"), array-ness in *array. */
const char *lint_type_base(const PgQuery__TypeName *tn);
/* Integer type modifier i (varchar(n), numeric(p,s)), -1 when absent. */
int lint_typmod(const PgQuery__TypeName *tn, size_t i);
/* The location field of any node, -1 when it has none. */
int lint_location(const PgQuery__Node *n);
/* The smallest location anywhere below n (where an expression starts), -1 when none. */
int lint_first_location(const PgQuery__Node *n);
/* The DefElem named name in an option list, or NULL. */
const PgQuery__DefElem *lint_defelem(PgQuery__Node *const *opts, size_t n, const char *name);
/* Constraint of contype among a ColumnDef's constraints, or NULL. */
const PgQuery__Constraint *lint_column_constraint(const PgQuery__ColumnDef *cd, int contype);
/* Column name of a ColumnRef (last field), or NULL. */
const char *lint_column_ref(const PgQuery__Node *n);

/* Does expr mention column col? */
bool lint_expr_mentions(const PgQuery__Node *expr, const char *col);

/* Location (relative to st->base) of the i-th sub-command of an ALTER TABLE, from tokens. */
int lint_cmd_location(const struct pgphase_lint_stmt *st, size_t i);
/* Call fn for every identifier token longer than 63 bytes in st; returns how many. */
size_t lint_long_identifiers(const struct pgphase_lint_stmt *st,
			     void (*fn)(const struct pgphase_lint_stmt *st, size_t off, size_t len,
					void *arg),
			     void *arg);

/* Column definitions a statement declares: CREATE TABLE elements, ADD COLUMN, ALTER TYPE. */
typedef void (*lint_coldef_fn)(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			       const PgQuery__RangeVar *table, const PgQuery__ColumnDef *cd,
			       const char *colname, void *arg);
void lint_for_each_coldef(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			  lint_coldef_fn fn, void *arg);

/* ALTER TABLE sub-commands, with their index (for lint_cmd_location). */
const PgQuery__AlterTableStmt *lint_alter_table(const struct pgphase_lint_stmt *st);
const PgQuery__AlterTableCmd *lint_cmd(const PgQuery__AlterTableStmt *a, size_t i);

#endif
