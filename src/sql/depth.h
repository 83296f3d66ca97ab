/*
 * Deep input is an input error, never a crash (src/sql/depth.c).  libpg_query, protobuf-c
 * and every tree walker recurse once per level of a parse tree, and a left-associative chain
 * (`1+1+…`, `'a'||'a'||…`, `x::int::int…`, UNION ALL, JOIN) nests one level per term
 * without limit.  PostgreSQL refuses such statements ("stack depth limit exceeded"); pgphase
 * refuses them as file:line:col input errors (exit 2) before anything recurses over them.
 */
#ifndef PGPHASE_SQL_DEPTH_H
#define PGPHASE_SQL_DEPTH_H

#include <stdbool.h>
#include <stddef.h>

#include <pg_query/pg_query.pb-c.h>

#include "pgphase/error.h"

/*
 * Deepest statement pgphase accepts, in tree levels (Node wrappers not counted; a `1+1+…`
 * chain of n terms is about n levels).  PostgreSQL 15 with its default max_stack_depth (2MB)
 * accepts at most about 4,080 `+` terms, 7,250 UNION ALL branches, 7,700 NOTs, 9,950 unary
 * minus signs (its grammar's own limit) and 13,000 `::` casts; the limit is above all of
 * them, so pgphase refuses only what the server refuses too.
 */
#define SQL_DEPTH_LIMIT 16000

/*
 * Text of at most this many bytes cannot nest deeper than the limit (every level of a tree
 * takes at least one byte of its text), nor deeper than a small stack holds: it is parsed
 * directly and not measured.
 */
#define SQL_DEPTH_SMALL_TEXT 2048

/*
 * Before libpg_query sees text (which recurses while it builds its output): 0 when text may
 * be parsed, with *big_stack telling whether it must be parsed on a large stack
 * (sql_on_big_stack) and *measure whether its tree may be deeper than the limit
 * (sql_depth_check); -1 with an input error at the deepest place (exit 2) when a statement
 * would nest so deeply that even that stack could not hold it.  Cheap for ordinary text:
 * text longer than the large stack holds in any case is split into statements (libpg_query's
 * scanner), and only a statement that long is scanned for its tokens.
 */
int sql_depth_precheck(const char *text, const char *file, bool *big_stack, bool *measure,
		       struct pgphase_error *err);

/*
 * After parsing: -1 with an input error at the place that first goes deeper than
 * SQL_DEPTH_LIMIT (exit 2, "expression nested too deeply (N levels; limit M)"), else 0.
 * text is what root was parsed from (its locations are byte offsets in it).  Iterative.
 */
int sql_depth_check(const ProtobufCMessage *root, const char *text, const char *file,
		    struct pgphase_error *err);

/* Deepest path below root counting every message (Node wrappers too).  Iterative. */
size_t sql_depth_messages(const ProtobufCMessage *root);

/*
 * Run fn(arg) on a thread with a large stack (reserved, used only as deep as the recursion
 * goes).  0, or -1 when no thread could be
 * started.
 */
int sql_on_big_stack(void (*fn)(void *), void *arg);

#endif
