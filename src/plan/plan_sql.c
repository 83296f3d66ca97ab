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

#define NAMEDATALEN_MAX 63 /* PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes */
#define SLOT_PREFIX "pgphase_slot_"
#define TYPE_PREFIX "pgphase_type_"
#define MAX_SWAPS 32

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

char *sql_deparse(struct plan_ctx *ctx, const PgQuery__Node *node, struct pgphase_error *err)
{
	return arena_take(ctx->arena, pgphase_node_deparse(node, err));
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

char *sql_object_name(struct plan_ctx *ctx, const char *a, const char *b, const char *suffix)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, ls = strlen(suffix);
	size_t overhead = ls + 1 + (b ? 1 : 0);

	/* like PostgreSQL's makeObjectName: shorten the longer part until the name fits */
	while (la + lb + overhead > NAMEDATALEN_MAX) {
		if (la >= lb)
			la--;
		else
			lb--;
	}
	if (b)
		return arena_printf(ctx->arena, "%.*s_%.*s_%s", (int)la, a, (int)lb, b, suffix);
	return arena_printf(ctx->arena, "%.*s_%s", (int)la, a, suffix);
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
