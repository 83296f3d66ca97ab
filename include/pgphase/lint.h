/*
 * The migration linter (DESIGN §10): reads migration files or directories, parses them with
 * libpg_query and reports hazards — locks that block the running application, table
 * rewrites, data loss, changes that break the deployed app version, and hygiene problems —
 * with file, 1-based line and column, rule id, severity, a message naming the lock taken (or
 * the data lost) and a concrete safe alternative.
 *
 * Every check reads the parse tree; nothing looks at SQL text with regexes.  Problems the
 * loader finds (bad file names, duplicate versions, syntax errors, unknown directives)
 * become findings too, and linting continues with the other statements and files.
 *
 * Phase awareness: pgphase lints what it will run.  A planner can answer, per statement and
 * hazard, "strategy S makes this safe" through pgphase_lint_options.strategy; the finding
 * then becomes an info note naming S.  Under `-- pgphase:as-is`, or with options.raw (SQL
 * run as written by other tools), the hook is not asked and the hazard keeps its severity.
 */
#ifndef PGPHASE_LINT_H
#define PGPHASE_LINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "pgphase/error.h"
#include "pgphase/migration.h"

enum pgphase_lint_severity {
	PGPHASE_LINT_INFO = 0,
	PGPHASE_LINT_WARNING = 1,
	PGPHASE_LINT_ERROR = 2,
};
/* "info", "warning", "error" */
const char *pgphase_lint_severity_name(enum pgphase_lint_severity s);

/* What kind of hazard a rule reports; the engine applies phase and freshness by category. */
enum pgphase_lint_category {
	PGPHASE_LINT_DESTRUCTIVE, /* loses data: error when unmarked or in EXPAND, warning in CONTRACT */
	PGPHASE_LINT_BREAKING,    /* breaks the app version that is still running */
	PGPHASE_LINT_BLOCKING,    /* long lock or table rewrite */
	PGPHASE_LINT_HYGIENE,     /* schema and migration hygiene */
	PGPHASE_LINT_INPUT,       /* the file itself: names, syntax, directives */
};
const char *pgphase_lint_category_name(enum pgphase_lint_category c);

/* Private to lint/: the per-run context and the statement a rule looks at. */
struct pgphase_lint_ctx;
struct pgphase_lint_stmt;

/*
 * One rule (lint/rule_*.c), built with designated initialisers.  check runs once per
 * statement whose node case is .node (every statement when .node is 0); check_migration, when
 * set, runs once per linted migration after its statements.  Rules with neither are reported
 * by the engine itself (syntax-error, bad-file-name, ...).
 */
struct pgphase_lint_rule {
	const char *id;
	enum pgphase_lint_severity severity; /* default severity */
	enum pgphase_lint_category category;
	const char *summary;
	int node; /* PgQuery__Node__NodeCase the check wants, 0 = every statement */
	bool plannable; /* a pgphase strategy may make it safe: the planner hook is asked */
	void (*check)(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st);
	void (*check_migration)(struct pgphase_lint_ctx *ctx, const struct pgphase_migration *m);
};

/* The registry: every rule, NULL-terminated, in --list-rules order (lint/registry.c). */
extern const struct pgphase_lint_rule *const pgphase_lint_rules[];
/* The rule with this id, or NULL. */
const struct pgphase_lint_rule *pgphase_lint_rule_find(const char *id);

struct pgphase_lint_finding {
	const char *file;       /* borrowed from the result's file table */
	size_t file_index;      /* index of file in the result's file table */
	int line, column;       /* 1-based start */
	int end_line, end_column; /* 1-based, just past the statement's last character */
	const struct pgphase_lint_rule *rule;
	enum pgphase_lint_severity severity; /* after phase, strategy and config adjustments */
	enum pgphase_phase phase; /* phase the statement runs in (PGPHASE_PHASE_NONE: unplaced) */
	bool down;              /* statement of a DOWN section */
	bool file_level;        /* about the file, not a statement (phase is meaningless) */
	const char *strategy;   /* strategy that makes it safe (static), or NULL */
	char *message;          /* owned */
	char *help;             /* owned: the safe alternative */
	size_t seq;             /* emission order, for a stable sort */
};

struct pgphase_lint_result {
	struct pgphase_lint_finding *findings; /* sorted by file, line, column */
	size_t n, cap;
	char **files;           /* owned display paths, in lint order */
	size_t n_files, cap_files;
	size_t statements;      /* statements linted */
	size_t counts[3];       /* findings per severity */
};

/*
 * What the planner says about one hazard of one statement.  info describes the statement;
 * rule is the hazard found.
 */
struct pgphase_lint_stmt_info {
	const struct pgphase_migration *migration;
	const PgQuery__Node *node;
	const struct pgphase_stmt_note *note; /* explicit phase, as-is, batch size */
	bool down;
	int line, column;
	const char *rule;
	int pg_version; /* the options' target PostgreSQL major version */
};

struct pgphase_lint_strategy {
	const char *name;         /* static strategy name, NULL when none applies */
	enum pgphase_phase phase; /* phase the planner places the statement in (NONE: as marked) */
};

struct pgphase_lint_options {
	int pg_version;     /* target PostgreSQL major version (default 15) */
	bool raw;           /* lint SQL as written: no strategy makes anything safe */
	/* Rule id lists, NULL-terminated, may be NULL: config lint.disable/error/warning and the
	 * --rule (only) / --exclude-rule flags.  Unknown ids are usage errors. */
	char *const *disable, *const *error, *const *warning;
	char *const *only, *const *exclude;
	const struct pgphase_template_vars *vars; /* {{schema}} for templates, may be NULL */
	/*
	 * Planner hook, NULL until strategies exist (then every statement is linted as --raw).
	 * Returns true and fills *out when a strategy makes the hazard safe or places the
	 * statement in a phase.
	 */
	bool (*strategy)(void *arg, const struct pgphase_lint_stmt_info *info,
			 struct pgphase_lint_strategy *out);
	void *strategy_arg;
};

void pgphase_lint_options_init(struct pgphase_lint_options *opts);

/*
 * The planner hook for pgphase_lint_options.strategy (lint/planner.c): asks the planner,
 * offline, which strategy it would use for the statement and where it lands.  arg unused.
 */
bool pgphase_lint_planner(void *arg, const struct pgphase_lint_stmt_info *info,
			  struct pgphase_lint_strategy *out);

/*
 * Lint files and directories (a directory is a migrations directory; a single file is
 * linted with the other migrations of its directory as context).  Findings are appended to
 * res (initialise it with pgphase_lint_result_init, release with _release).  Fails (-1, exit
 * code 2) only for usage errors: unknown rule ids in the options, a path that does not exist
 * or cannot be read.
 */
void pgphase_lint_result_init(struct pgphase_lint_result *res);
void pgphase_lint_result_release(struct pgphase_lint_result *res);
int pgphase_lint_paths(struct pgphase_lint_result *res, const char *const *paths, size_t n,
		       const struct pgphase_lint_options *opts, struct pgphase_error *err);

/* True when a finding of error severity remains (the CLI exits 1). */
bool pgphase_lint_failed(const struct pgphase_lint_result *res);

enum pgphase_lint_format {
	PGPHASE_LINT_TEXT,   /* file:line:col: severity: message [rule] + hint line */
	PGPHASE_LINT_JSON,   /* {"findings": [...], "summary": {...}} */
	PGPHASE_LINT_GITHUB, /* ::error file=...,line=...:: workflow annotations */
	PGPHASE_LINT_SARIF,  /* SARIF 2.1.0 */
};

/*
 * Write findings to out.  color adds ANSI colours to text output.  Returns 0, or -1 when
 * writing failed (errno set; EPIPE when the reader went away).
 */
int pgphase_lint_write(FILE *out, const struct pgphase_lint_result *res,
		       enum pgphase_lint_format format, bool color);
/* The rule catalogue: text (id, severity, category, summary) or JSON.  0 / -1 as above. */
int pgphase_lint_write_rules(FILE *out, enum pgphase_lint_format format);

#endif
