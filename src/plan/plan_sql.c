/*
 * SQL building for the planner and the strategies, only through libpg_query: a template
 * (our own SQL text, identifiers quoted with quote_ident_always) is parsed, placeholders in
 * its tree are replaced by nodes of the user's statement, and the result is deparsed.  The
 * deparser also normalises quoting, so planned SQL reads like hand-written SQL.
 *
 * Grafting swaps pointers in the template's tree for the duration of the deparse and puts
 * them back before the tree is freed: no node is ever owned twice.
 *
 * Also here: PostgreSQL-style object names.  Walks use the SQL-tree toolkit
 * (src/sql/tree.h).  Results go to the plan's arena; the deparser's and the quoting
 * helper's malloc'd text is taken into it here, in one place (arena_take).
 */
#include <stdlib.h>
#include <string.h>

#include "plan/plan_int.h"
#include "base/util.h"
#include "pgphase/migration.h"

#define NAMEDATALEN_MAX 63 /* PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes */
#define SLOT_PREFIX "pgphase_slot_"
#define TYPE_PREFIX "pgphase_type_"
#define MAX_SWAPS 32
#define HASH_HEX 8         /* hex digits of SHA-256 that make a shortened helper name unique */

/* Is a name read back as itself?  (%s: the name, unquoted) */
static const char *const SQL_NAME_PROBE = "CREATE INDEX %s ON t (c)";

const char *sql_str(const PgQuery__Node *n)
{
	return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string->sval : NULL;
}

struct swap_state {
	const struct sql_graft *grafts;
	size_t n;
	ProtobufCMessage **where[MAX_SWAPS];
	ProtobufCMessage *old[MAX_SWAPS];
	size_t n_swaps;
	bool overflow;
};

static const struct sql_graft *find_graft(struct swap_state *st, const char *name,
					  const char *prefix)
{
	size_t plen = strlen(prefix);

	if (!name || strncmp(name, prefix, plen) != 0)
		return NULL;
	for (size_t i = 0; i < st->n; i++)
		if (strcmp(st->grafts[i].name, name + plen) == 0)
			return &st->grafts[i];
	return NULL;
}

static void swap_in(struct swap_state *st, ProtobufCMessage **where, ProtobufCMessage *with)
{
	if (st->n_swaps == MAX_SWAPS) {
		st->overflow = true;
		return;
	}
	st->where[st->n_swaps] = where;
	st->old[st->n_swaps++] = *where;
	*where = with;
}

static enum sql_walk_next swap_visit(ProtobufCMessage *m, ProtobufCMessage **where, void *arg)
{
	struct swap_state *st = arg;
	const struct sql_graft *g;

	if (!where)
		return SQL_WALK_CONTINUE; /* the statement itself */
	if (m->descriptor == &pg_query__node__descriptor) {
		const PgQuery__Node *node = (const PgQuery__Node *)m;

		if (node->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
		    node->column_ref->n_fields == 1 &&
		    (g = find_graft(st, sql_str(node->column_ref->fields[0]), SLOT_PREFIX)) &&
		    g->node) {
			/* descend into the graft too: a graft may hold type placeholders */
			swap_in(st, where, (ProtobufCMessage *)g->node);
			return SQL_WALK_CONTINUE;
		}
	} else if (m->descriptor == &pg_query__type_name__descriptor) {
		const PgQuery__TypeName *tn = (const PgQuery__TypeName *)m;

		if (tn->n_names > 0 &&
		    (g = find_graft(st, sql_str(tn->names[tn->n_names - 1]), TYPE_PREFIX)) && g->type) {
			swap_in(st, where, (ProtobufCMessage *)g->type);
			return SQL_WALK_SKIP;
		}
	}
	return SQL_WALK_CONTINUE;
}

/*
 * Does PostgreSQL need name in double quotes?  Anything but lower-case letters, digits, "_"
 * and "$" (not first) does; of the names made only of those, the keywords a name cannot be
 * (the parser itself answers: is it read back as the index name of a CREATE INDEX?).
 */
static bool ident_needs_quotes(const char *name)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;
	char *text;
	bool plain;

	if (!name[0] || !((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return true;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '$'))
			return true;
	text = xasprintf(SQL_NAME_PROBE, name);
	plain = pgphase_sql_parse(&sql, text, "<name probe>", &e) == 0 && sql.n == 1 &&
		sql.stmts[0].node->node_case == PG_QUERY__NODE__NODE_INDEX_STMT &&
		strcmp(sql.stmts[0].node->index_stmt->idxname, name) == 0;
	if (e.message == NULL)
		pgphase_sql_release(&sql);
	pgphase_error_release(&e);
	free(text);
	return !plain;
}

/* The names the deparser writes as they are, each quoted while it runs (then put back). */
struct name_fix {
	struct pgphase_arena *arena;
	char **where[MAX_SWAPS];
	char *old[MAX_SWAPS];
	size_t n;
	bool overflow;
};

static void fix_name(struct name_fix *f, char **where)
{
	if (!*where || !**where || !ident_needs_quotes(*where))
		return;
	if (f->n == MAX_SWAPS) {
		f->overflow = true;
		return;
	}
	f->where[f->n] = where;
	f->old[f->n++] = *where;
	*where = arena_take(f->arena, quote_ident_always(*where));
}

static enum sql_walk_next name_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	(void)slot;
	if (m->descriptor == &pg_query__index_stmt__descriptor)
		fix_name(arg, &((PgQuery__IndexStmt *)m)->idxname);
	else if (m->descriptor == &pg_query__constraint__descriptor)
		fix_name(arg, &((PgQuery__Constraint *)m)->conname);
	return SQL_WALK_CONTINUE;
}

char *sql_deparse(struct plan_ctx *ctx, const PgQuery__Node *node, struct pgphase_error *err)
{
	struct name_fix f;
	char *out;

	/* libpg_query 15-4.0 writes an index's and a constraint's name without quotes:
	   "MyIdx" would become myidx, "my idx" a syntax error */
	memset(&f, 0, sizeof(f));
	f.arena = ctx->arena;
	sql_tree_walk(&node->base, 0, name_visit, &f);
	out = f.overflow ? NULL : arena_take(ctx->arena, pgphase_node_deparse(node, err));
	if (f.overflow)
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "statement has too many names to quote");
	while (f.n > 0) {
		f.n--;
		*f.where[f.n] = f.old[f.n];
	}
	return out;
}

/* Zero every "location" field below m: trees of the same SQL then pack to the same bytes. */
static enum sql_walk_next unlocate_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	const ProtobufCFieldDescriptor *fd =
		protobuf_c_message_descriptor_get_field_by_name(m->descriptor, "location");

	(void)slot;
	(void)arg;
	if (fd && fd->type == PROTOBUF_C_TYPE_INT32 && fd->label != PROTOBUF_C_LABEL_REPEATED)
		*(int32_t *)((char *)m + fd->offset) = 0;
	return SQL_WALK_CONTINUE;
}

static uint8_t *pack_unlocated(struct plan_ctx *ctx, const PgQuery__Node *node, size_t *len)
{
	PgQuery__Node *copy = pgphase_message_copy(ctx->arena, &node->base);
	uint8_t *buf;

	sql_tree_walk(&copy->base, 0, unlocate_visit, NULL);
	*len = protobuf_c_message_get_packed_size(&copy->base);
	buf = arena_alloc(ctx->arena, *len ? *len : 1);
	protobuf_c_message_pack(&copy->base, buf);
	return buf;
}

bool sql_round_trips(struct plan_ctx *ctx, const PgQuery__Node *node)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;
	char *text = sql_deparse(ctx, node, &e);
	bool same = false;

	if (text && pgphase_sql_parse(&sql, text, "<deparsed>", &e) == 0) {
		if (sql.n == 1) {
			size_t la, lb;
			uint8_t *a = pack_unlocated(ctx, node, &la);
			uint8_t *b = pack_unlocated(ctx, sql.stmts[0].node, &lb);

			same = la == lb && memcmp(a, b, la) == 0;
		}
		pgphase_sql_release(&sql);
	}
	pgphase_error_release(&e);
	return same;
}

/* Swap placeholders under each node, deparse, put the template's nodes back. */
static char *render_nodes(struct plan_ctx *ctx, PgQuery__Node *const *nodes, size_t n_nodes,
			  const struct sql_graft *grafts, size_t n, struct pgphase_error *err)
{
	struct swap_state st;
	char *result = "";
	bool ok = true;

	memset(&st, 0, sizeof(st));
	st.grafts = grafts;
	st.n = n;
	for (size_t i = 0; i < n_nodes; i++)
		sql_tree_walk(&nodes[i]->base, SQL_WALK_NODES, swap_visit, &st);
	for (size_t i = 0; ok && i < n_nodes; i++) {
		char *one = st.overflow ? NULL : sql_deparse(ctx, nodes[i], err);

		if (!one) {
			ok = false;
			if (st.overflow)
				pgphase_error_set(err, PGPHASE_EXIT_USAGE, "planner template has too many "
						  "placeholders");
			break;
		}
		result = i ? arena_printf(ctx->arena, "%s;\n%s", result, one) : one;
	}
	/* put the template's own nodes back before the tree is freed */
	while (st.n_swaps > 0) {
		st.n_swaps--;
		*st.where[st.n_swaps] = st.old[st.n_swaps];
	}
	return ok ? result : NULL;
}

char *sql_render(struct plan_ctx *ctx, const char *text, const struct sql_graft *grafts,
		 size_t n, struct pgphase_error *err)
{
	struct pgphase_sql sql;
	PgQuery__Node **nodes;
	char *out;

	if (pgphase_sql_parse(&sql, text, "<planner template>", err) < 0)
		return NULL;
	nodes = arena_alloc(ctx->arena, (sql.n ? sql.n : 1) * sizeof(*nodes));
	for (size_t i = 0; i < sql.n; i++)
		nodes[i] = sql.stmts[i].node;
	out = render_nodes(ctx, nodes, sql.n, grafts, n, err);
	pgphase_sql_release(&sql);
	return out;
}

char *sql_renderf(struct plan_ctx *ctx, struct pgphase_error *err, const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = arena_vprintf(ctx->arena, fmt, ap);
	va_end(ap);
	return sql_render(ctx, text, NULL, 0, err);
}

char *sql_ident(struct plan_ctx *ctx, const char *name)
{
	return arena_take(ctx->arena, quote_ident_always(name));
}

char *sql_rel(struct plan_ctx *ctx, const PgQuery__RangeVar *rv)
{
	char *rel = sql_ident(ctx, rv->relname);

	if (!rv->schemaname || !rv->schemaname[0])
		return rel;
	return arena_printf(ctx->arena, "%s.%s", sql_ident(ctx, rv->schemaname), rel);
}

char *sql_rel_display(struct plan_ctx *ctx, const PgQuery__RangeVar *rv)
{
	if (rv->schemaname && rv->schemaname[0])
		return arena_printf(ctx->arena, "%s.%s", rv->schemaname, rv->relname);
	return arena_strdup(ctx->arena, rv->relname);
}

/* Bytes of s (len bytes) that fit in max without cutting a UTF-8 character (pg_mbcliplen). */
static size_t utf8_clip(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

char *sql_object_name(struct plan_ctx *ctx, const char *a, const char *b, const char *suffix)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, ls = strlen(suffix);
	size_t overhead = ls + 1 + (b ? 1 : 0);

	/* PostgreSQL's makeObjectName: shorten the longer part until the name fits, never
	   cutting a multibyte character */
	while (la + lb + overhead > NAMEDATALEN_MAX) {
		if (la >= lb)
			la--;
		else
			lb--;
	}
	la = utf8_clip(a, strlen(a), la);
	if (b)
		lb = utf8_clip(b, strlen(b), lb);
	if (b)
		return arena_printf(ctx->arena, "%.*s_%.*s_%s", (int)la, a, (int)lb, b, suffix);
	return arena_printf(ctx->arena, "%.*s_%s", (int)la, a, suffix);
}

char *sql_helper_name(struct plan_ctx *ctx, const char *a, const char *b, const char *suffix)
{
	char *full = b ? arena_printf(ctx->arena, "%s_%s_%s", a, b, suffix)
		       : arena_printf(ctx->arena, "%s_%s", a, suffix);
	size_t len = strlen(full), keep;
	char hex[65];

	if (len <= NAMEDATALEN_MAX)
		return full;
	/* <start of the full name>_<hash of the full name>_<suffix>: deterministic, and two
	   long names differing only past the cut still differ */
	pgphase_sha256_hex(full, len, hex);
	keep = utf8_clip(full, len, NAMEDATALEN_MAX - HASH_HEX - strlen(suffix) - 2);
	return arena_printf(ctx->arena, "%.*s_%.*s_%s", (int)keep, full, HASH_HEX, hex, suffix);
}

static enum sql_walk_next first_col_visit(ProtobufCMessage *m, ProtobufCMessage **slot,
					  void *arg)
{
	const PgQuery__ColumnRef *cr = (const PgQuery__ColumnRef *)m;
	const char **name = arg;

	(void)slot;
	if (m->descriptor != &pg_query__column_ref__descriptor || cr->n_fields == 0)
		return SQL_WALK_CONTINUE;
	*name = sql_str(cr->fields[cr->n_fields - 1]);
	return *name ? SQL_WALK_STOP : SQL_WALK_SKIP; /* x.* names no column */
}

const char *sql_first_column(const ProtobufCMessage *msg)
{
	const char *name = NULL;

	sql_tree_walk(msg, 0, first_col_visit, &name);
	return name;
}
