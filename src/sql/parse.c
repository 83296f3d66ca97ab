/*
 * SQL through libpg_query.  The parser splits a text into RawStmts; their stmt_location
 * points just past the previous statement's semicolon, so leading whitespace and comments
 * belong to the statement.  The scanner finds the first real token of each statement, which
 * gives exact 1-based line and column.  Classification (what PostgreSQL refuses inside a
 * transaction block) reads the typed protobuf tree.
 *
 * This module does not know about migration files: sections, directives and templates are
 * the loader's business.
 */
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "pgphase/sql.h"
#include "sql/depth.h"
#include "base/arena.h"
#include "base/util.h"

size_t pgphase_cursor_to_offset(const char *text, int cursorpos)
{
	size_t off = 0;
	int chars = 1;

	/* cursorpos counts characters from 1; walk UTF-8 lead bytes */
	while (text[off] && chars < cursorpos) {
		off++;
		while (text[off] && ((unsigned char)text[off] & 0xC0) == 0x80)
			off++;
		chars++;
	}
	return off;
}

static int parse_error(struct pgphase_error *err, const char *file, const char *text,
		       const PgQueryError *pe)
{
	int line = 1, col = 1;

	if (pe->cursorpos > 0)
		text_position(text, pgphase_cursor_to_offset(text, pe->cursorpos), &line, &col);
	return pgphase_error_at(err, PGPHASE_EXIT_USAGE, "syntax-error", file ? file : "<sql>",
				line, col, "%s", pe->message);
}

/* Tokens from the scanner; the caller frees with pg_query__scan_result__free_unpacked. */
static PgQuery__ScanResult *scan(const char *text, const char *file, struct pgphase_error *err)
{
	PgQueryScanResult res = pg_query_scan(text);
	PgQuery__ScanResult *tokens = NULL;

	if (res.error) {
		parse_error(err, file, text, res.error);
		goto cleanup;
	}
	tokens = pg_query__scan_result__unpack(NULL, res.pbuf.len, (const uint8_t *)res.pbuf.data);
	if (!tokens)
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "%s: cannot decode scanner output",
				  file ? file : "<sql>");
cleanup:
	pg_query_free_scan_result(res);
	return tokens;
}

static bool is_comment_token(PgQuery__Token t)
{
	return t == PG_QUERY__TOKEN__SQL_COMMENT || t == PG_QUERY__TOKEN__C_COMMENT;
}

/* A comment list under construction; tc numbers the lines of comments added in order. */
struct comment_list {
	struct pgphase_comment *v;
	size_t n, cap;
	struct text_cursor tc;
};

static void comment_add(struct comment_list *l, const char *text, size_t offset, size_t len,
			bool line_comment)
{
	struct pgphase_comment *c;
	size_t p;

	GROW(l->v, l->cap, l->n + 1);
	c = &l->v[l->n++];
	c->offset = offset;
	c->len = len;
	c->line_comment = line_comment;
	text_cursor_to(text, &l->tc, offset, &c->line, &c->column);
	for (p = offset; p > 0 && (text[p - 1] == ' ' || text[p - 1] == '\t' || text[p - 1] == '\r');
	     p--)
		;
	c->alone_on_line = p == 0 || text[p - 1] == '\n';
	for (p = offset + len; text[p] == ' ' || text[p] == '\t' || text[p] == '\r'; p++)
		;
	c->alone_after = text[p] == '\0' || text[p] == '\n';
}

/* The comment tokens of tokens, whose offsets count from base in text. */
static void comments_of_tokens(struct comment_list *l, const char *text, size_t base,
			       const PgQuery__ScanResult *tokens)
{
	for (size_t i = 0; i < tokens->n_tokens; i++) {
		const PgQuery__ScanToken *t = tokens->tokens[i];

		if (is_comment_token(t->token))
			comment_add(l, text, base + (size_t)t->start, (size_t)(t->end - t->start),
				    t->token == PG_QUERY__TOKEN__SQL_COMMENT);
	}
}

int pgphase_sql_comments(const char *text, const char *file, struct pgphase_comment **out,
			 size_t *n, struct pgphase_error *err)
{
	PgQuery__ScanResult *tokens = scan(text, file, err);
	struct comment_list l = { .tc = TEXT_CURSOR_INIT };

	if (!tokens)
		return -1;
	comments_of_tokens(&l, text, 0, tokens);
	pg_query__scan_result__free_unpacked(tokens, NULL);
	*out = l.v;
	*n = l.n;
	return 0;
}

bool pgphase_node_transaction_control(const PgQuery__Node *node)
{
	return node && node->node_case == PG_QUERY__NODE__NODE_TRANSACTION_STMT;
}

static bool defelem_list_has(PgQuery__Node **opts, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
		    strcmp(opts[i]->def_elem->defname, name) == 0)
			return true;
	return false;
}

/* ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY */
static bool alter_table_no_transaction(const PgQuery__AlterTableStmt *s)
{
	for (size_t i = 0; i < s->n_cmds; i++) {
		const PgQuery__Node *c = s->cmds[i];

		if (c->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
			continue;
		if (c->alter_table_cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition &&
		    c->alter_table_cmd->def &&
		    c->alter_table_cmd->def->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD &&
		    c->alter_table_cmd->def->partition_cmd->concurrent)
			return true;
	}
	return false;
}

/*
 * The statements PostgreSQL rejects with "cannot run inside a transaction block"
 * (PreventInTransactionBlock callers in the server source).
 */
bool pgphase_node_no_transaction(const PgQuery__Node *node)
{
	if (!node)
		return false;
	switch (node->node_case) {
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		return node->index_stmt->concurrent;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		return node->drop_stmt->concurrent;
	case PG_QUERY__NODE__NODE_REINDEX_STMT:
		/* REINDEX ... CONCURRENTLY, and REINDEX SYSTEM/DATABASE (they commit per table) */
		return defelem_list_has(node->reindex_stmt->params, node->reindex_stmt->n_params,
					"concurrently") ||
		       node->reindex_stmt->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SYSTEM ||
		       node->reindex_stmt->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_DATABASE;
	case PG_QUERY__NODE__NODE_VACUUM_STMT:
		/* VACUUM, not ANALYZE */
		return node->vacuum_stmt->is_vacuumcmd;
	case PG_QUERY__NODE__NODE_CLUSTER_STMT:
		/* CLUSTER without a table walks every table, one transaction each */
		return node->cluster_stmt->relation == NULL;
	case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT:
	case PG_QUERY__NODE__NODE_CREATEDB_STMT:
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
	case PG_QUERY__NODE__NODE_CREATE_TABLE_SPACE_STMT:
	case PG_QUERY__NODE__NODE_DROP_TABLE_SPACE_STMT:
		return true;
	case PG_QUERY__NODE__NODE_ALTER_DATABASE_STMT:
		/* ALTER DATABASE ... SET TABLESPACE moves files and cannot be rolled back */
		return defelem_list_has(node->alter_database_stmt->options,
					node->alter_database_stmt->n_options, "tablespace");
	case PG_QUERY__NODE__NODE_CREATE_SUBSCRIPTION_STMT:
		/* creates a replication slot unless create_slot = false; assume it does */
		return true;
	case PG_QUERY__NODE__NODE_DROP_SUBSCRIPTION_STMT:
		return true;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		return alter_table_no_transaction(node->alter_table_stmt);
	default:
		return false;
	}
}

static const struct {
	PgQuery__Node__NodeCase node_case;
	const char *kind;
} kind_names[] = {
	{ PG_QUERY__NODE__NODE_CREATE_STMT, "CREATE TABLE" },
	{ PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT, "CREATE TABLE AS" },
	{ PG_QUERY__NODE__NODE_INDEX_STMT, "CREATE INDEX" },
	{ PG_QUERY__NODE__NODE_ALTER_TABLE_STMT, "ALTER TABLE" },
	{ PG_QUERY__NODE__NODE_DROP_STMT, "DROP" },
	{ PG_QUERY__NODE__NODE_RENAME_STMT, "RENAME" },
	{ PG_QUERY__NODE__NODE_INSERT_STMT, "INSERT" },
	{ PG_QUERY__NODE__NODE_UPDATE_STMT, "UPDATE" },
	{ PG_QUERY__NODE__NODE_DELETE_STMT, "DELETE" },
	{ PG_QUERY__NODE__NODE_SELECT_STMT, "SELECT" },
	{ PG_QUERY__NODE__NODE_TRUNCATE_STMT, "TRUNCATE" },
	{ PG_QUERY__NODE__NODE_VIEW_STMT, "CREATE VIEW" },
	{ PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT, "CREATE FUNCTION" },
	{ PG_QUERY__NODE__NODE_CREATE_TRIG_STMT, "CREATE TRIGGER" },
	{ PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT, "CREATE SCHEMA" },
	{ PG_QUERY__NODE__NODE_CREATE_SEQ_STMT, "CREATE SEQUENCE" },
	{ PG_QUERY__NODE__NODE_CREATE_ENUM_STMT, "CREATE TYPE" },
	{ PG_QUERY__NODE__NODE_ALTER_ENUM_STMT, "ALTER TYPE" },
	{ PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT, "CREATE EXTENSION" },
	{ PG_QUERY__NODE__NODE_TRANSACTION_STMT, "TRANSACTION CONTROL" },
	{ PG_QUERY__NODE__NODE_VACUUM_STMT, "VACUUM" },
	{ PG_QUERY__NODE__NODE_REINDEX_STMT, "REINDEX" },
	{ PG_QUERY__NODE__NODE_CLUSTER_STMT, "CLUSTER" },
	{ PG_QUERY__NODE__NODE_LOCK_STMT, "LOCK" },
	{ PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT, "ALTER SYSTEM" },
	{ PG_QUERY__NODE__NODE_CREATEDB_STMT, "CREATE DATABASE" },
	{ PG_QUERY__NODE__NODE_DROPDB_STMT, "DROP DATABASE" },
	{ PG_QUERY__NODE__NODE_COMMENT_STMT, "COMMENT" },
	{ PG_QUERY__NODE__NODE_GRANT_STMT, "GRANT" },
	{ PG_QUERY__NODE__NODE_VARIABLE_SET_STMT, "SET" },
	{ PG_QUERY__NODE__NODE_DO_STMT, "DO" },
	{ PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT, "REFRESH MATERIALIZED VIEW" },
};

const char *pgphase_node_kind(const PgQuery__Node *node)
{
	const ProtobufCFieldDescriptor *f;

	if (!node)
		return "EMPTY";
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
		if (kind_names[i].node_case == node->node_case)
			return kind_names[i].kind;
	/* fall back to the protobuf field name, e.g. "alter_owner_stmt" */
	f = protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor,
						    (unsigned)node->node_case);
	return f ? f->name : "UNKNOWN";
}

/* First byte at or after from that starts a non-comment token (the scanner decides). */
static size_t first_token(const PgQuery__ScanResult *tokens, size_t *cursor, size_t from,
			  size_t limit)
{
	while (*cursor < tokens->n_tokens) {
		const PgQuery__ScanToken *t = tokens->tokens[*cursor];

		if ((size_t)t->start >= limit)
			break;
		if ((size_t)t->start >= from && !is_comment_token(t->token))
			return (size_t)t->start;
		(*cursor)++;
	}
	return from;
}

/* Unpacked, a tree takes about this many times its packed size (measured: 13 to 16). */
#define ARENA_PER_PACKED_BYTE 16

/* Bytes one element of a repeated field of type t takes (protobuf-c's array layout). */
static size_t repeated_element_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4; /* 32-bit integers, float, enum */
	}
}

static char *copy_string(struct pgphase_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(arena_alloc(a, n), s, n);
}

/* Messages whose slots still point at the original, to be copied (an explicit stack). */
struct copy_work {
	ProtobufCMessage ***v;
	size_t n, cap;
	ProtobufCMessage **local[64]; /* the start: most copies are small */
};

/* Copy what one field value at where points to (already shallow-copied); a message is
 * queued: its slot is filled when the work reaches it. */
static void copy_value(struct pgphase_arena *a, ProtobufCType t, void *where,
		       struct copy_work *w)
{
	if (t == PROTOBUF_C_TYPE_MESSAGE && *(void **)where) {
		if (w->n == w->cap) {
			ProtobufCMessage ***v = xmalloc(2 * w->cap * sizeof(*v));

			memcpy(v, w->v, w->n * sizeof(*v));
			if (w->v != w->local)
				free(w->v);
			w->v = v;
			w->cap *= 2;
		}
		w->v[w->n++] = (ProtobufCMessage **)where;
	} else if (t == PROTOBUF_C_TYPE_STRING && *(char **)where) {
		*(char **)where = copy_string(a, *(char **)where);
	} else if (t == PROTOBUF_C_TYPE_BYTES && ((ProtobufCBinaryData *)where)->len) {
		ProtobufCBinaryData *b = where;

		b->data = memcpy(arena_alloc(a, b->len), b->data, b->len);
	}
}

/* Replace the message at *slot by a shallow copy and queue what it points to. */
static void copy_one(struct pgphase_arena *a, ProtobufCMessage **slot, struct copy_work *w)
{
	const ProtobufCMessageDescriptor *d = (*slot)->descriptor;
	ProtobufCMessage *copy = memcpy(arena_alloc(a, d->sizeof_message), *slot,
					d->sizeof_message);
	char *base = (char *)copy;

	*slot = copy;
	copy->n_unknown_fields = 0;
	copy->unknown_fields = NULL;
	if (d == &pg_query__node__descriptor) {
		/* a Node is a oneof over ~250 message types: copy just the one that is set */
		const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(
			d, (unsigned)((PgQuery__Node *)copy)->node_case);

		if (f)
			copy_value(a, f->type, base + f->offset, w);
		return;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			size_t elt = repeated_element_size(f->type);
			char **arr = (char **)(base + f->offset);

			if (!n || !*arr)
				continue;
			*arr = memcpy(arena_alloc(a, n * elt), *arr, n * elt);
			for (size_t k = 0; k < n; k++)
				copy_value(a, f->type, *arr + k * elt, w);
		} else {
			copy_value(a, f->type, base + f->offset, w);
		}
	}
}

/*
 * A field-by-field copy through protobuf-c's reflection: the struct, then what its string,
 * bytes, message and repeated fields point to (only the set member of a oneof).  Iterative
 * (a work list of slots), so a deeply nested tree cannot overflow the stack.
 */
void *pgphase_message_copy(struct pgphase_arena *a, const ProtobufCMessage *msg)
{
	ProtobufCMessage *root = (ProtobufCMessage *)msg;
	struct copy_work w;

	if (!msg)
		return NULL;
	w.v = w.local;
	w.cap = sizeof(w.local) / sizeof(w.local[0]);
	w.n = 0;
	w.v[w.n++] = &root;
	while (w.n) {
		ProtobufCMessage **slot = w.v[--w.n];

		copy_one(a, slot, &w);
	}
	if (w.v != w.local)
		free(w.v);
	return root;
}

/*
 * libpg_query gives its parse tree out only in protobuf wire format: it builds the tree as
 * protobuf-c structs, measures and packs them (two walks over the tree), and the caller
 * unpacks the bytes into the same structs again.  The packing and unpacking took about
 * 60% of a lint run.  So the build links libpg_query statically with the linker's --wrap
 * on the two calls it makes to pack a ParseResult (Makefile: PGQ_LIBS): while
 * parse_tree() has a tree_copy arena set, the wrappers copy libpg_query's structs into
 * that arena and encode nothing.  Any other caller (pgphase_node_deparse packs a tree)
 * gets the real functions.  Linked without --wrap the wrappers are never called, the weak
 * __real_ references stay unused, and the tree is unpacked from the bytes as before.
 * check_parse holds every copied tree byte-for-byte equal to libpg_query's own encoding.
 */
size_t __real_pg_query__parse_result__get_packed_size(const PgQuery__ParseResult *m)
	__attribute__((weak));
size_t __real_pg_query__parse_result__pack(const PgQuery__ParseResult *m, uint8_t *out)
	__attribute__((weak));
size_t __wrap_pg_query__parse_result__get_packed_size(const PgQuery__ParseResult *m);
size_t __wrap_pg_query__parse_result__pack(const PgQuery__ParseResult *m, uint8_t *out);

static _Thread_local struct {
	struct pgphase_arena *arena; /* set while parse_tree() runs libpg_query */
	PgQuery__ParseResult *tree;  /* the copy, once libpg_query asked for its size */
} tree_copy;

size_t __wrap_pg_query__parse_result__get_packed_size(const PgQuery__ParseResult *m)
{
	if (!tree_copy.arena)
		return __real_pg_query__parse_result__get_packed_size(m);
	tree_copy.tree = pgphase_message_copy(tree_copy.arena, &m->base);
	return 0;
}

size_t __wrap_pg_query__parse_result__pack(const PgQuery__ParseResult *m, uint8_t *out)
{
	if (!tree_copy.arena)
		return __real_pg_query__parse_result__pack(m, out);
	return 0; /* get_packed_size said 0 bytes */
}

/* pg_query_parse_protobuf with the wrappers copying into arena; *tree NULL if they did not */
static PgQueryProtobufParseResult parse_copying(const char *text, struct pgphase_arena *arena,
						PgQuery__ParseResult **tree)
{
	PgQueryProtobufParseResult res;

	tree_copy.arena = arena;
	tree_copy.tree = NULL;
	res = pg_query_parse_protobuf(text);
	tree_copy.arena = NULL;
	*tree = tree_copy.tree;
	return res;
}

bool pgphase_sql_tree_copied(void)
{
	struct pgphase_arena *arena = pgphase_arena_new();
	PgQuery__ParseResult *tree;
	PgQueryProtobufParseResult res = parse_copying("SELECT 1", arena, &tree);
	bool copied = !res.error && tree;

	pg_query_free_protobuf_parse_result(res);
	pgphase_arena_free(arena);
	return copied;
}

/* libpg_query's parse and the copy of its tree, run where parse_tree() says */
struct parse_call {
	const char *text;
	struct pgphase_arena *arena;
	PgQuery__ParseResult *tree; /* copied, or unpacked from the bytes */
	PgQueryProtobufParseResult res;
};

static void parse_call_run(void *arg)
{
	struct parse_call *c = arg;
	ProtobufCAllocator alloc = { arena_alloc_cb, arena_free_cb, c->arena };

	c->res = parse_copying(c->text, c->arena, &c->tree);
	if (c->res.error || c->tree)
		return;
	/* one block for the whole tree, sized from its packed form: no growing, and small
	   files take small blocks (which malloc recycles instead of mapping fresh pages);
	   protobuf-c's unpack recurses too, so it runs here as well */
	arena_hint(c->arena, c->res.parse_tree.len * ARENA_PER_PACKED_BYTE);
	c->tree = pg_query__parse_result__unpack(&alloc, c->res.parse_tree.len,
						 (const uint8_t *)c->res.parse_tree.data);
}

/*
 * Parse text into out->tree, in a new arena (out->arena).  Deep input is refused as an input
 * error before anything recurses over it too deeply (src/sql/depth.c): text that may nest
 * deeply is parsed on a large stack and then measured.
 */
static int parse_tree(struct pgphase_sql *out, const char *text, const char *file,
		      struct pgphase_error *err)
{
	struct pgphase_arena *arena = pgphase_arena_new();
	struct parse_call c = { .text = text, .arena = arena };
	bool big = false, measure = false;
	int rc = 0;

	out->arena = arena;
	if (sql_depth_precheck(text, file, &big, &measure, err) < 0)
		return -1;
	if (!big)
		parse_call_run(&c);
	else if (sql_on_big_stack(parse_call_run, &c) < 0)
		return pgphase_error_set(err, PGPHASE_EXIT_FAILED, "%s: cannot start a thread to "
					 "parse it", file ? file : "<sql>");
	if (c.res.error) {
		rc = parse_error(err, file, text, c.res.error);
		goto cleanup;
	}
	out->tree = c.tree;
	if (!out->tree) {
		rc = pgphase_error_set(err, PGPHASE_EXIT_USAGE, "%s: cannot decode parse tree",
				       file ? file : "<sql>");
		goto cleanup;
	}
	if (measure)
		rc = sql_depth_check(&out->tree->base, text, file, err);
cleanup:
	pg_query_free_protobuf_parse_result(c.res);
	return rc;
}

/*
 * First byte at or after from that is neither white space nor inside one of the comments
 * the scanner found (cs, in offset order; *k is a cursor into it).
 */
static size_t first_after_comments(const char *text, const struct pgphase_comment *cs, size_t n,
				   size_t *k, size_t from, size_t limit)
{
	size_t p = from;

	while (p < limit) {
		while (*k < n && cs[*k].offset + cs[*k].len <= p)
			(*k)++;
		if (*k < n && cs[*k].offset <= p) {
			p = cs[*k].offset + cs[*k].len;
			continue;
		}
		if (text[p] == ' ' || text[p] == '\t' || text[p] == '\n' || text[p] == '\r' ||
		    text[p] == '\f' || text[p] == '\v') {
			p++;
			continue;
		}
		return p;
	}
	return from;
}

/* Record statement raw, whose first token is at first and which ends at end. */
static void stmt_add(struct pgphase_sql *out, const char *text, struct text_cursor *tc,
		     const PgQuery__RawStmt *raw, size_t first, size_t end)
{
	struct pgphase_stmt *s = &out->stmts[out->n++];
	int col;

	s->offset = first;
	s->len = end - first;
	s->sql = xstrndup(text + first, s->len);
	s->node = raw->stmt;
	text_cursor_to(text, tc, first, &s->line, &s->column);
	text_cursor_to(text, tc, end ? end - 1 : 0, &s->end_line, &col);
	s->no_transaction = pgphase_node_no_transaction(raw->stmt);
	s->transaction_control = pgphase_node_transaction_control(raw->stmt);
}

/* Byte range of raw in a text of textlen bytes; stmt_len 0 means "to the end". */
static size_t stmt_end(const PgQuery__RawStmt *raw, size_t textlen)
{
	return raw->stmt_len ? (size_t)raw->stmt_location + (size_t)raw->stmt_len : textlen;
}

int pgphase_sql_parse(struct pgphase_sql *out, const char *text, const char *file,
		      struct pgphase_error *err)
{
	return pgphase_sql_parse_with_comments(out, text, file, NULL, 0, err);
}

int pgphase_sql_parse_with_comments(struct pgphase_sql *out, const char *text, const char *file,
				    const struct pgphase_comment *cs, size_t ncs,
				    struct pgphase_error *err)
{
	PgQuery__ScanResult *tokens = NULL;
	struct text_cursor tc = TEXT_CURSOR_INIT;
	size_t cursor = 0, textlen = strlen(text);
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (parse_tree(out, text, file, err) < 0)
		goto cleanup;
	if (!cs) {
		tokens = scan(text, file, err);
		if (!tokens)
			goto cleanup;
	}
	out->stmts = xcalloc(out->tree->n_stmts, sizeof(*out->stmts));
	for (size_t i = 0; i < out->tree->n_stmts; i++) {
		const PgQuery__RawStmt *raw = out->tree->stmts[i];
		size_t start = (size_t)raw->stmt_location, end = stmt_end(raw, textlen);

		if (!raw->stmt)
			continue;
		stmt_add(out, text, &tc, raw,
			 tokens ? first_token(tokens, &cursor, start, end)
				: first_after_comments(text, cs, ncs, &cursor, start, end),
			 end);
	}
	rc = 0;
cleanup:
	if (tokens)
		pg_query__scan_result__free_unpacked(tokens, NULL);
	if (rc < 0)
		pgphase_sql_release(out);
	return rc;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * Skip the stretch from p that the parser left outside every statement — white space,
 * semicolons and comments, nothing else can be there — recording its comments.  Returns
 * the first byte before limit that is none of those: the next statement's first token.
 * Comment syntax as PostgreSQL's scanner has it: "--" to the end of the line, slash-star
 * comments nest.
 */
static size_t skip_gap(struct comment_list *l, const char *text, size_t p, size_t limit)
{
	while (p < limit) {
		size_t q = p + 2;

		if (text[p] == '-' && text[p + 1] == '-') {
			while (q < limit && text[q] != '\n' && text[q] != '\r')
				q++;
			comment_add(l, text, p, q - p, true);
		} else if (text[p] == '/' && text[p + 1] == '*') {
			int depth = 1;

			while (q < limit && depth > 0) {
				if (text[q] == '/' && text[q + 1] == '*') {
					depth++;
					q += 2;
				} else if (text[q] == '*' && text[q + 1] == '/') {
					depth--;
					q += 2;
				} else {
					q++;
				}
			}
			comment_add(l, text, p, q - p, false);
		} else if (is_space(text[p]) || text[p] == ';') {
			q = p + 1;
		} else {
			return p;
		}
		p = q;
	}
	return p;
}

/* Every comment starts with "--" or a slash-star: without either, s has none. */
static bool may_hold_comment(const char *s, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if ((s[i] == '-' && s[i - 1] == '-') || (s[i] == '*' && s[i - 1] == '/'))
			return true;
	return false;
}

/* Comments inside [from, to), one statement's text: scanned only when it may hold one. */
static int stmt_comments(struct comment_list *l, const char *text, size_t from, size_t to,
			 const char *file, struct pgphase_error *err)
{
	PgQuery__ScanResult *tokens;
	char *body;

	if (!may_hold_comment(text + from, to - from))
		return 0;
	body = xstrndup(text + from, to - from);
	tokens = scan(body, file, err);
	free(body);
	if (!tokens)
		return -1;
	comments_of_tokens(l, text, from, tokens);
	pg_query__scan_result__free_unpacked(tokens, NULL);
	return 0;
}

int pgphase_sql_parse_all(struct pgphase_sql *out, struct pgphase_comment **cs, size_t *ncs,
			  const char *text, const char *file, struct pgphase_error *err)
{
	struct comment_list l = { .tc = TEXT_CURSOR_INIT };
	struct text_cursor tc = TEXT_CURSOR_INIT;
	size_t p = 0, textlen = strlen(text);

	memset(out, 0, sizeof(*out));
	if (parse_tree(out, text, file, err) < 0)
		goto fail;
	out->stmts = xcalloc(out->tree->n_stmts ? out->tree->n_stmts : 1, sizeof(*out->stmts));
	for (size_t i = 0; i < out->tree->n_stmts; i++) {
		const PgQuery__RawStmt *raw = out->tree->stmts[i];
		size_t end = stmt_end(raw, textlen), first;

		if (!raw->stmt)
			continue;
		first = skip_gap(&l, text, p, end);
		if (stmt_comments(&l, text, first, end, file, err) < 0)
			goto fail;
		stmt_add(out, text, &tc, raw, first, end);
		p = end;
	}
	skip_gap(&l, text, p, textlen);
	*cs = l.v;
	*ncs = l.n;
	return 0;
fail:
	free(l.v);
	pgphase_sql_release(out);
	return -1;
}

int pgphase_sql_take(struct pgphase_sql *dst, struct pgphase_sql *src, size_t from, size_t to)
{
	memset(dst, 0, sizeof(*dst));
	dst->stmts = xcalloc(src->n ? src->n : 1, sizeof(*dst->stmts));
	for (size_t i = 0; i < src->n; i++) {
		const struct pgphase_stmt *s = &src->stmts[i];

		if (s->offset + s->len <= from || s->offset >= to)
			continue;
		if (s->offset < from || s->offset + s->len > to) {
			free(dst->stmts);
			memset(dst, 0, sizeof(*dst));
			return -1; /* straddles a boundary */
		}
		dst->stmts[dst->n++] = *s;
	}
	/* the statements' texts move to dst */
	for (size_t i = 0; i < src->n; i++)
		if (src->stmts[i].offset >= from && src->stmts[i].offset < to)
			src->stmts[i].sql = NULL;
	dst->tree = src->tree;
	dst->arena = src->arena;
	arena_ref(dst->arena);
	return 0;
}

void pgphase_sql_release(struct pgphase_sql *sql)
{
	for (size_t i = 0; i < sql->n; i++)
		free(sql->stmts[i].sql);
	free(sql->stmts);
	pgphase_arena_free(sql->arena); /* holds the whole tree */
	memset(sql, 0, sizeof(*sql));
}

struct deparse_call {
	const PgQuery__Node *node;
	PgQueryDeparseResult dr;
};

/* pack the statement and let libpg_query deparse it (all three recurse over the tree) */
static void deparse_call_run(void *arg)
{
	struct deparse_call *c = arg;
	PgQuery__ParseResult result = PG_QUERY__PARSE_RESULT__INIT;
	PgQuery__RawStmt raw = PG_QUERY__RAW_STMT__INIT;
	PgQuery__RawStmt *stmts[1] = { &raw };
	PgQueryProtobuf buf;

	raw.stmt = (PgQuery__Node *)c->node;
	result.version = PG_VERSION_NUM;
	result.n_stmts = 1;
	result.stmts = stmts;
	buf.len = pg_query__parse_result__get_packed_size(&result);
	buf.data = xmalloc(buf.len);
	pg_query__parse_result__pack(&result, (uint8_t *)buf.data);
	c->dr = pg_query_deparse_protobuf(buf);
	free(buf.data);
}

/* Nesting (in messages) up to which a statement is deparsed on the caller's stack. */
#define DEPARSE_SMALL_DEPTH 1000

char *pgphase_node_deparse(const PgQuery__Node *node, struct pgphase_error *err)
{
	struct deparse_call c = { .node = node };
	char *out = NULL;

	/* a tree the parser accepted is at most SQL_DEPTH_LIMIT levels deep: more than a
	   small stack holds while protobuf-c and the deparser recurse over it */
	if (sql_depth_messages(&node->base) <= DEPARSE_SMALL_DEPTH)
		deparse_call_run(&c);
	else if (sql_on_big_stack(deparse_call_run, &c) < 0)
		return pgphase_error_set(err, PGPHASE_EXIT_FAILED, "cannot start a thread to "
					 "deparse a statement"), NULL;
	if (c.dr.error)
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot deparse statement: %s",
				  c.dr.error->message);
	else
		out = xstrdup(c.dr.query);
	pg_query_free_deparse_result(c.dr);
	return out;
}
