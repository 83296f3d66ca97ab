/*
 * Migration files (DESIGN §4), the one front end every command and the linter use: names,
 * .up/.down pairs, sections, phase markers, directives and their attachment, templates and
 * checksums.  The loader reads a directory into a version-ordered set; each migration keeps
 * its UP and DOWN text with every other byte blanked to spaces (newlines kept), so parser
 * positions are positions in the file.  What is wrong is collected as problems, never
 * stopping at the first.
 */
#ifndef PGPHASE_MIGRATION_H
#define PGPHASE_MIGRATION_H

#include <stdbool.h>
#include <stdint.h>

#include "pgphase/error.h"
#include "pgphase/phase.h"
#include "pgphase/sql.h"

enum pgphase_name_style {
	PGPHASE_STYLE_NUMBER,       /* 001_name.sql */
	PGPHASE_STYLE_FLYWAY,       /* V001__name.sql */
	PGPHASE_STYLE_TIMESTAMP,    /* 20240101120000_name.sql */
	PGPHASE_STYLE_TIMESTAMP_US, /* 20240101_120000_name.sql */
};

/*
 * What the front end found wrong in the files, collected instead of stopping at the first:
 * each problem has a kind, a place and a message.  Commands that change the database refuse
 * on any problem; lint reports each kind as its rule (lint/files.c).
 */
enum pgphase_problem_kind {
	PGPHASE_PROBLEM_BAD_FILE_NAME,      /* near-miss name; .down.sql without its .up.sql */
	PGPHASE_PROBLEM_DUPLICATE_VERSION,  /* a second migration with the same version */
	PGPHASE_PROBLEM_BAD_ENCODING,       /* not UTF-8, or a NUL byte */
	PGPHASE_PROBLEM_UNKNOWN_TEMPLATE,   /* {{name}} that is no template */
	PGPHASE_PROBLEM_BAD_DIRECTIVE,      /* unknown -- pgphase: directive, or bad arguments */
	PGPHASE_PROBLEM_DANGLING_DIRECTIVE, /* directive with no statement to apply to */
	PGPHASE_PROBLEM_MISPLACED_MARKER,   /* second -- UP/-- DOWN, statement before -- UP,
	                                       section marker in a pair, phase marker in DOWN,
	                                       marker or directive inside a statement */
	PGPHASE_PROBLEM_EMPTY_MIGRATION,    /* no statement in the UP section */
	PGPHASE_PROBLEM_SYNTAX_ERROR,       /* a statement PostgreSQL cannot parse, unterminated
	                                       quote or comment */
};
#define PGPHASE_PROBLEM_KINDS 9

struct pgphase_problem {
	enum pgphase_problem_kind kind;
	char *file;       /* owned display path */
	int line, column; /* 1-based; column 0 when the problem is the whole line or file */
	char *message;    /* owned, without the position: "unknown directive ..." */
	char *hint;       /* owned or NULL */
};

/* A growing list of problems; zero-initialised is empty.  Release frees every string. */
struct pgphase_problems {
	struct pgphase_problem *v;
	size_t n, cap;
};
void pgphase_problems_release(struct pgphase_problems *p);
/* Stable name of a kind: "bad-file-name", "duplicate-version", "syntax-error", ... */
const char *pgphase_problem_kind_name(enum pgphase_problem_kind kind);
/*
 * Turn a non-empty list into one input error (exit 2): the message is the first problem as
 * "file:line[:column]: message", the detail holds every other problem in the same form, one
 * a line, and the hint is the first problem's.  Returns -1.
 */
int pgphase_problems_error(const struct pgphase_problems *p, struct pgphase_error *err);

/*
 * What a directive or marker says about the statement it applies to.
 *
 * The one attachment rule (src/load/attach.c; lint and every command use it): a directive
 * alone on its line applies to the next statement; a directive written after code on its
 * line (`CREATE INDEX ...; -- pgphase:as-is`) applies to the statement that code belongs to.
 * Phase markers are always alone on their line and place every statement after them.
 */
struct pgphase_stmt_note {
	enum pgphase_phase phase; /* explicit -- EXPAND / -- BACKFILL / -- CONTRACT, or NONE */
	bool as_is;               /* -- pgphase:as-is */
	long batch_size;          /* -- pgphase:batch-size N, 0 when absent */
	char *ignore_rules;       /* -- pgphase:ignore RULE[,RULE] (owned, comma list) or NULL;
	                             the last one when several apply (every one is a marker) */
	char *ignore_reason;      /* owned or NULL */
	int directive_line;       /* line of the last directive applied, 0 when none */
};

/* A phase marker or statement directive found in a section, in file order. */
enum pgphase_marker_kind {
	PGPHASE_MARK_PHASE,      /* -- EXPAND / -- BACKFILL / -- CONTRACT */
	PGPHASE_MARK_AS_IS,      /* -- pgphase:as-is */
	PGPHASE_MARK_IGNORE,     /* -- pgphase:ignore RULE[,RULE] reason */
	PGPHASE_MARK_BATCH_SIZE, /* -- pgphase:batch-size N */
};

struct pgphase_marker {
	enum pgphase_marker_kind kind;
	size_t offset;
	int line, column;
	bool trailing;            /* written after code on its line */
	size_t stmt;              /* statement it applies to (index in the section), SIZE_MAX
	                             when none (a problem was reported) or a phase marker */
	enum pgphase_phase phase; /* PGPHASE_MARK_PHASE */
	long batch_size;          /* PGPHASE_MARK_BATCH_SIZE */
	char *rules, *reason;     /* PGPHASE_MARK_IGNORE, owned */
};

struct pgphase_section {
	char *text;        /* owned: file text, bytes outside the section blanked */
	bool present;      /* holds at least one statement */
	bool broken;       /* a syntax error was found in it: sql holds the statements that
	                      parsed on their own (see base) */
	int marker_line;   /* line of the section's marker, 0 when implicit */
	const char *file;  /* display path of the file the section came from (borrowed) */
	struct pgphase_sql sql;          /* the statements, in order */
	size_t *base;      /* NULL, or after a syntax error one per statement: its node
	                      locations count from text + base[i] (each piece parsed alone) */
	struct pgphase_sql *pieces;      /* owned trees of those pieces */
	size_t n_pieces;
	bool sql_ready;                  /* sql filled by the whole-file parse */
	struct pgphase_stmt_note *notes; /* one per sql.stmts[i], same order */
	struct pgphase_marker *markers;  /* in offset order */
	size_t n_markers;
	struct pgphase_comment *comments; /* every comment of the file (scanner), owned; NULL
	                                     until the section is split */
	size_t n_comments;
};

struct pgphase_migration {
	int64_t version;
	char *version_text;  /* as written in the file name: "001", "20240101_120000" */
	char *name;          /* description part of the name */
	char *file;          /* display path of the UP (or only) file; NULL for a .down.sql
	                        without its .up.sql (a problem) */
	char *down_file;     /* display path of a .down.sql pair, else NULL */
	enum pgphase_name_style style;
	bool loose;          /* loaded by pgphase_migration_load_file() from a path that is not
	                        a migration name (version 0) */
	bool loaded;         /* files read (pgphase_migration_read) */
	bool broken;         /* a problem was found in this migration's files */
	char checksum[65];   /* hex SHA-256 of the file bytes (up then down for a pair) */
	bool no_transaction; /* -- pgphase:no-transaction */
	char *ignore_file_rules;  /* -- pgphase:ignore-file RULE[,RULE] reason (owned) or NULL */
	char *ignore_file_reason; /* owned or NULL */
	struct pgphase_section up, down;
	/* The planner's index of CREATE TABLE statements (src/plan/plan_model.c), built on first
	 * use and freed with the migration. */
	void *plan_index;
	void (*plan_index_free)(void *index);
};

struct pgphase_migration_set {
	char *dir;
	struct pgphase_migration *items; /* ascending version (then path: a duplicate version
	                                    follows the first file that has it) */
	size_t n;
	size_t cap;
	struct pgphase_problems problems; /* owned: every problem found, in file order */
	char **ignored;  /* owned display paths of entries that are not migration names */
	size_t n_ignored;
};

/* Values substituted for {{schema}} and {{tables.NAME}}. */
struct pgphase_template_vars {
	const char *schema; /* default "public" */
	bool no_checksum;   /* leave checksum empty (lint: nothing compares it) */
};

/*
 * The front end, in two steps that lint calls one at a time (so it holds one migration's
 * trees at a time) and commands call together:
 *
 * pgphase_migration_set_list() lists dir: names, versions, .up/.down pairing, order.
 * Naming problems go to set->problems; the migrations are not read yet.  Fails (-1, exit 2)
 * only when dir cannot be listed.  dir "" is the current directory, its paths shown bare.
 *
 * pgphase_migration_read() reads one listed migration: UTF-8 and NUL checks, checksum,
 * templates, sections, phase markers, directives, statements (a syntax error does not hide
 * the other statements) and directive attachment.  Problems are appended to *problems and
 * mark m->broken.  Fails only when a file cannot be read.  pgphase_migration_unload() frees
 * what it read and keeps the names.
 */
int pgphase_migration_set_list(struct pgphase_migration_set *set, const char *dir,
			       struct pgphase_error *err);
int pgphase_migration_read(struct pgphase_migration *m, const struct pgphase_template_vars *vars,
			   struct pgphase_problems *problems, struct pgphase_error *err);
void pgphase_migration_unload(struct pgphase_migration *m);

/* List and read every migration of dir; problems stay in set->problems. */
int pgphase_migration_set_read(struct pgphase_migration_set *set, const char *dir,
			       const struct pgphase_template_vars *vars,
			       struct pgphase_error *err);

/*
 * pgphase_migration_set_read(), refusing on any problem: the error lists every one
 * (pgphase_problems_error) and the set is released.  Release with
 * pgphase_migration_set_release(), which frees the items, their texts and trees, the
 * problems and the ignored names.
 */
int pgphase_migration_set_load(struct pgphase_migration_set *set, const char *dir,
			       const struct pgphase_template_vars *vars,
			       struct pgphase_error *err);
void pgphase_migration_set_release(struct pgphase_migration_set *set);

/*
 * Load one file given by path (lint on single paths): a migration name gives its version, a
 * near-miss name is a problem, any other name makes a loose migration of version 0.  Same
 * checks as the directory load; problems are appended to *problems.  Fails only when the
 * file cannot be read.  Release with pgphase_migration_release().
 */
int pgphase_migration_load_file(struct pgphase_migration *m, const char *path,
				const struct pgphase_template_vars *vars,
				struct pgphase_problems *problems, struct pgphase_error *err);
void pgphase_migration_release(struct pgphase_migration *m);

/* Load a migration from memory; path names it (version, messages).  Any problem fails the
 * load (the error lists them all) and leaves m released. */
int pgphase_migration_load_text(struct pgphase_migration *m, const char *path, const char *text,
				size_t len, const struct pgphase_template_vars *vars,
				struct pgphase_error *err);

/* Loading parses: these only say whether m (every migration) is free of problems. */
int pgphase_migration_parse(struct pgphase_migration *m, struct pgphase_error *err);
int pgphase_migration_set_parse(struct pgphase_migration_set *set, struct pgphase_error *err);

/* The first migration with this version, or NULL. */
struct pgphase_migration *pgphase_migration_find(const struct pgphase_migration_set *set,
						 int64_t version);

/*
 * Parse a file name.  Returns 1 when it names a migration (fills version, version_text,
 * name, style and *part: 0 single file, 1 .up.sql, 2 .down.sql), 0 when the file is not a
 * migration and can be ignored, -1 for a near-miss that must be an error (*why set to a
 * static string).  version_text and name are malloc'd.
 */
int pgphase_parse_file_name(const char *base, int64_t *version, char **version_text,
			    char **name, enum pgphase_name_style *style, int *part,
			    const char **why);

/* Hex SHA-256 of data (OpenSSL EVP); out has 65 bytes. */
void pgphase_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * Create a new migration file in dir in the directory's own style (padding width, Flyway
 * prefix, timestamp form, .up/.down pairs).  *path_out is malloc'd.
 */
int pgphase_migration_new(const char *dir, const char *name, char **path_out,
			  struct pgphase_error *err);

#endif
