/*
 * The SQL-tree toolkit, shared by the planner, the strategies, the backfill engine and the
 * linter: one walk over libpg_query's protobuf-c trees (read-only, or replacing messages in
 * their slots), one table of built-in function volatility, and one ALTER TABLE splitter.
 * Parsing itself is src/sql/parse.c; nothing here talks to a database.
 */
#ifndef PGPHASE_SQL_TREE_H
#define PGPHASE_SQL_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include <pg_query/pg_query.pb-c.h>

/* ---- the walk ------------------------------------------------------------------------ */

/* What a visitor tells the walk. */
enum sql_walk_next {
	SQL_WALK_CONTINUE, /* visit the message's children */
	SQL_WALK_SKIP,     /* not its children; go on with its siblings */
	SQL_WALK_STOP,     /* end the whole walk */
};

/*
 * A visitor sees msg, stored at *slot in its parent (slot is NULL for the root).  It may
 * store another message at *slot: the walk then goes on with the children of the new message
 * (without visiting it; a Node's child is the message it holds), unless it said SKIP.
 */
typedef enum sql_walk_next (*sql_visit_fn)(ProtobufCMessage *msg, ProtobufCMessage **slot,
					   void *arg);

/*
 * Node wrappers (a oneof over every node type) are looked through: the visitor sees the
 * message a Node holds, with the Node's member as its slot.  SQL_WALK_NODES also shows it
 * each Node first, with the Node's slot, for visitors that replace whole nodes.
 */
#define SQL_WALK_NODES 1u

/*
 * Visit root and every message below it, parents before children, fields in declaration
 * order (only the set member of a oneof).  Reflection over the protobuf-c descriptors, so no
 * node type is forgotten.  The walk changes nothing itself; a visitor may change the tree when
 * its caller owns it.  Returns false when a visitor stopped it.
 */
bool sql_tree_walk(const ProtobufCMessage *root, unsigned flags, sql_visit_fn fn, void *arg);

/* The message a Node wrapper holds, NULL when none is set. */
ProtobufCMessage *sql_node_message(const PgQuery__Node *n);

/* ---- volatility ---------------------------------------------------------------------- */

enum sql_volatility {
	SQL_VOL_STABLE,   /* known to be IMMUTABLE or STABLE: evaluated once */
	SQL_VOL_VOLATILE, /* known to return a different value per call (row) */
	SQL_VOL_UNKNOWN,  /* not in the table: only the catalog knows */
};

/*
 * Volatility of a function named by a FuncCall's name list; a schema qualification is
 * ignored (pg_catalog.random() is random()).
 */
enum sql_volatility sql_func_volatility(PgQuery__Node *const *funcname, size_t n);
/* Entry i of the table (false past the end), for tests that hold it against pg_proc. */
bool sql_func_table_entry(size_t i, const char **name, enum sql_volatility *v);

/*
 * Volatility of an expression from the table: VOLATILE when it calls a known volatile
 * function, else UNKNOWN when it calls one not in the table, else STABLE.  *func (may be
 * NULL) names the deciding function (NULL for STABLE).
 */
enum sql_volatility sql_expr_volatility(const PgQuery__Node *expr, const char **func);

/* ---- ALTER TABLE sub-commands -------------------------------------------------------- */

/* One sub-command of an ALTER TABLE as a statement of its own. */
struct sql_alter_part {
	PgQuery__Node node;           /* an ALTER TABLE statement: points to stmt */
	PgQuery__AlterTableStmt stmt; /* the original's fields with one of its sub-commands */
	int location;                 /* where the sub-command starts (like the tree's
	                                 locations), -1 when unknown or no text was given */
};

/*
 * Split an ALTER TABLE statement into one statement per sub-command, in order.  text (may be
 * NULL) is the statement's text from the origin of its tree's locations, len bytes: the
 * scanner then finds each sub-command's location.  Returns the number of parts (0 when n is
 * not an ALTER TABLE) in *parts, a malloc'd array the caller frees; the parts borrow the
 * original's nodes, so they are valid while its tree is.
 */
size_t sql_alter_split(const PgQuery__Node *n, const char *text, size_t len,
		       struct sql_alter_part **parts);

/* Location of sub-command i of ALTER TABLE a in text (as sql_alter_split), -1 when unknown. */
int sql_alter_cmd_location(const PgQuery__AlterTableStmt *a, const char *text, size_t len,
			   size_t i);

/* Tokens of a NUL-terminated text, NULL when the scanner fails; free with
 * pg_query__scan_result__free_unpacked(). */
PgQuery__ScanResult *sql_scan(const char *text);

#endif
