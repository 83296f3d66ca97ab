/*
 * SQL through libpg_query: split a text into statements with exact 1-based line and column,
 * typed AST access (protobuf-c, <pg_query/pg_query.pb-c.h>), and classification of what
 * PostgreSQL refuses inside a transaction block.  Nothing here looks at SQL with regexes or
 * string matching: positions come from the scanner, kinds from the parse tree.
 */
#ifndef PGPHASE_SQL_H
#define PGPHASE_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include <pg_query/pg_query.pb-c.h>

#include "pgphase/arena.h"
#include "pgphase/error.h"

struct pgphase_stmt {
	char *sql;           /* owned: from the first token to the end, no trailing ';' */
	size_t offset;       /* byte offset of the first token in the parsed text */
	size_t len;          /* byte length of sql */
	int line, column;    /* 1-based position of the first token (column in characters) */
	int end_line;        /* line of the last byte */
	PgQuery__Node *node; /* borrowed from the owning struct pgphase_sql */
	bool no_transaction; /* PostgreSQL refuses it inside a transaction block */
	bool transaction_control; /* BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ... */
};

struct pgphase_sql {
	struct pgphase_stmt *stmts;
	size_t n;
	PgQuery__ParseResult *tree; /* owned (in arena); stmts[i].node points into it */
	void *arena;                /* owned: memory of the tree */
};

/* A comment found by the scanner. */
struct pgphase_comment {
	size_t offset;      /* byte offset of "--" or slash-star */
	size_t len;
	int line, column;
	bool line_comment;  /* "-- ..." (true) or a C-style block comment (false) */
	bool alone_on_line; /* only whitespace precedes it on its line */
	bool alone_after;   /* only whitespace follows a block comment on its line (line
	                       comments always end their line) */
};

/*
 * Parse text (NUL-terminated) into statements.  file names the source in error messages
 * ("file:line:column: ..."); it may be NULL.  On failure returns -1 with a usage error
 * (exit 2).  Release with pgphase_sql_release().
 */
int pgphase_sql_parse(struct pgphase_sql *out, const char *text, const char *file,
		      struct pgphase_error *err);
void pgphase_sql_release(struct pgphase_sql *sql);

/*
 * The same, given every comment of text as pgphase_sql_comments() found them (in offset
 * order): statement positions skip those comments without scanning the text again.
 */
struct pgphase_comment;
int pgphase_sql_parse_with_comments(struct pgphase_sql *out, const char *text, const char *file,
				    const struct pgphase_comment *cs, size_t ncs,
				    struct pgphase_error *err);

/*
 * All comments of text, in order, from libpg_query's scanner.  *out is owned by the caller
 * (free()).  Scanner errors (unterminated quote, dollar quote or comment) fail with
 * "file:line:column: ...".
 */
int pgphase_sql_comments(const char *text, const char *file, struct pgphase_comment **out,
			 size_t *n, struct pgphase_error *err);

/*
 * pgphase_sql_comments() and pgphase_sql_parse() in one pass: the comments between
 * statements are read off the stretches the parser left outside every statement (only
 * white space, semicolons and comments can be there) and only a statement whose text holds
 * "--" or a slash-star goes through the scanner.  *cs is owned by the caller (free()).
 */
int pgphase_sql_parse_all(struct pgphase_sql *out, struct pgphase_comment **cs, size_t *ncs,
			  const char *text, const char *file, struct pgphase_error *err);

/*
 * Move the statements of src lying in the byte range [from, to) to dst, which shares src's
 * tree (it lives until both are released).  -1 (nothing moved) when a statement straddles
 * from or to.
 */
int pgphase_sql_take(struct pgphase_sql *dst, struct pgphase_sql *src, size_t from, size_t to);

/*
 * Memory for parse trees, released all at once; pgphase_message_copy() deep-copies any
 * libpg_query message (a Node, a TypeName, ...) into one, so the copy outlives the tree it
 * came from.
 */
void *pgphase_message_copy(struct pgphase_arena *a, const ProtobufCMessage *msg);

/*
 * True when parses take libpg_query's tree as it builds it, without its protobuf encode
 * and decode (the program was linked with Makefile's PGQ_LIBS); false when they unpack it.
 */
bool pgphase_sql_tree_copied(void);

/*
 * What a statement is with respect to the file's own BEGIN ... COMMIT (src/sql/txn_blocks.c):
 * BOUNDARY, a BEGIN/COMMIT pgphase's one transaction per migration already provides (not
 * run); INSIDE, a statement of a block that does not span the whole section (run as written,
 * in place, with the block's others; begin_line is its BEGIN's line).
 */
struct pgphase_txn_role {
	enum { PGPHASE_TXN_ROLE_NONE, PGPHASE_TXN_ROLE_BOUNDARY, PGPHASE_TXN_ROLE_INSIDE } kind;
	int begin_line;
};
/*
 * Roles of sql's statements (*out: calloc'd, one per statement; free()).  ROLLBACK,
 * SAVEPOINT, RELEASE, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED, nested BEGIN and a
 * COMMIT closing nothing before further statements are input errors (exit 2, file:line:col).
 */
int pgphase_sql_txn_roles(const struct pgphase_sql *sql, const char *file,
			  struct pgphase_txn_role **out, struct pgphase_error *err);

/* True when PostgreSQL refuses node inside a transaction block. */
bool pgphase_node_no_transaction(const PgQuery__Node *node);
/* True for BEGIN / COMMIT / ROLLBACK / SAVEPOINT / ... */
bool pgphase_node_transaction_control(const PgQuery__Node *node);
/* A short upper-case description of the statement kind, e.g. "CREATE INDEX". */
const char *pgphase_node_kind(const PgQuery__Node *node);

/*
 * Deparse one statement node back to SQL (libpg_query's deparser).  Returns a malloc'd string
 * or NULL with err set.
 */
char *pgphase_node_deparse(const PgQuery__Node *node, struct pgphase_error *err);

/* Convert a libpg_query cursor position (1-based, in characters) to a byte offset. */
size_t pgphase_cursor_to_offset(const char *text, int cursorpos);

#endif
