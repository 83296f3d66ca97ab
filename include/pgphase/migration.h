/*
 * Migration files (DESIGN §4): names, sections, phase markers, directives, templates and
 * checksums.  The loader reads a directory into a version-ordered set; each migration keeps
 * its UP and DOWN text with every other byte blanked to spaces (newlines kept), so parser
 * positions are positions in the file.
 */
#ifndef PGPHASE_MIGRATION_H
#define PGPHASE_MIGRATION_H

#include <stdbool.h>
#include <stdint.h>

#include "pgphase/error.h"
#include "pgphase/sql.h"

enum pgphase_phase {
	PGPHASE_PHASE_NONE = 0, /* not placed: the planner decides */
	PGPHASE_PHASE_EXPAND,
	PGPHASE_PHASE_BACKFILL,
	PGPHASE_PHASE_CONTRACT,
};
const char *pgphase_phase_name(enum pgphase_phase p); /* "expand", ... or "unplaced" */

enum pgphase_name_style {
	PGPHASE_STYLE_NUMBER,       /* 001_name.sql */
	PGPHASE_STYLE_FLYWAY,       /* V001__name.sql */
	PGPHASE_STYLE_TIMESTAMP,    /* 20240101120000_name.sql */
	PGPHASE_STYLE_TIMESTAMP_US, /* 20240101_120000_name.sql */
};

/* What a directive or marker says about the statement that follows it. */
struct pgphase_stmt_note {
	enum pgphase_phase phase; /* explicit -- EXPAND / -- BACKFILL / -- CONTRACT, or NONE */
	bool as_is;               /* -- pgphase:as-is */
	long batch_size;          /* -- pgphase:batch-size N, 0 when absent */
	char *ignore_rules;       /* -- pgphase:ignore RULE[,RULE] (owned, comma list) or NULL */
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
	bool trailing;            /* written after code on its line: applies to that line's
	                             statement instead of the next one */
	enum pgphase_phase phase; /* PGPHASE_MARK_PHASE */
	long batch_size;          /* PGPHASE_MARK_BATCH_SIZE */
	char *rules, *reason;     /* PGPHASE_MARK_IGNORE, owned */
};

struct pgphase_section {
	char *text;        /* owned: file text, bytes outside the section blanked */
	bool present;      /* holds at least one statement */
	int marker_line;   /* line of the section's marker, 0 when implicit */
	const char *file;  /* display path of the file the section came from (borrowed) */
	struct pgphase_sql sql;          /* filled by pgphase_migration_parse() */
	bool sql_ready;                  /* sql filled (when the file was split, or parsed) */
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
	char *file;          /* display path of the UP (or only) file */
	char *down_file;     /* display path of a .down.sql pair, else NULL */
	enum pgphase_name_style style;
	char checksum[65];   /* hex SHA-256 of the file bytes (up then down for a pair) */
	bool no_transaction; /* -- pgphase:no-transaction */
	char *ignore_file_rules;  /* -- pgphase:ignore-file RULE[,RULE] reason (owned) or NULL */
	char *ignore_file_reason; /* owned or NULL */
	bool parsed;
	struct pgphase_section up, down;
	/* The planner's index of CREATE TABLE statements (src/plan/plan_model.c), built on first
	 * use and freed with the migration. */
	void *plan_index;
	void (*plan_index_free)(void *index);
};

struct pgphase_migration_set {
	char *dir;
	struct pgphase_migration *items; /* ascending version */
	size_t n;
	size_t cap;
};

/* Values substituted for {{schema}} and {{tables.NAME}}. */
struct pgphase_template_vars {
	const char *schema; /* default "public" */
	bool no_checksum;   /* leave checksum empty (lint: nothing compares it) */
};

/*
 * Read every migration of dir.  Naming problems (malformed names, duplicate versions) are
 * collected and reported together: the error message names the first, the detail lists all.
 * Files are read, checked (UTF-8, no NUL), checksummed, template-expanded and split into
 * sections; statements are parsed by pgphase_migration_parse().
 * Release with pgphase_migration_set_release().
 */
int pgphase_migration_set_load(struct pgphase_migration_set *set, const char *dir,
			       const struct pgphase_template_vars *vars,
			       struct pgphase_error *err);
void pgphase_migration_set_release(struct pgphase_migration_set *set);

/* Load one file (for lint on single paths); same checks as the directory load. */
int pgphase_migration_load_file(struct pgphase_migration *m, const char *path,
				const struct pgphase_template_vars *vars,
				struct pgphase_error *err);
void pgphase_migration_release(struct pgphase_migration *m);

/* Load a migration from memory; path names it (version, messages).  Same checks. */
int pgphase_migration_load_text(struct pgphase_migration *m, const char *path, const char *text,
				size_t len, const struct pgphase_template_vars *vars,
				struct pgphase_error *err);

/* Parse UP and DOWN statements and attach directive notes; idempotent. */
int pgphase_migration_parse(struct pgphase_migration *m, struct pgphase_error *err);

/* Parse every migration, stopping at the first error. */
int pgphase_migration_set_parse(struct pgphase_migration_set *set, struct pgphase_error *err);

/* The migration with this version, or NULL. */
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
