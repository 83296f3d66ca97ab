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
 * (src/sql/tree.h).
 */
#include <stdlib.h>
#include <string.h>

#include "strategies/strategy.h"
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

char *sql_deparse(const PgQuery__Node *node, struct pgphase_error *err)
{
	return pgphase_node_deparse(node, err);
}

/* Swap placeholders under each node, deparse, put the template's nodes back. */
static char *render_nodes(PgQuery__Node *const *nodes, size_t n_nodes,
			  const struct sql_graft *grafts, size_t n, struct pgphase_error *err)
{
	struct swap_state st;
	struct sbuf out = SBUF_INIT;
	char *result = NULL;
	bool ok = true;

	memset(&st, 0, sizeof(st));
	st.grafts = grafts;
	st.n = n;
	for (size_t i = 0; i < n_nodes; i++)
		sql_tree_walk(&nodes[i]->base, SQL_WALK_NODES, swap_visit, &st);
	for (size_t i = 0; ok && i < n_nodes; i++) {
		char *one = st.overflow ? NULL : pgphase_node_deparse(nodes[i], err);

		if (!one) {
			ok = false;
			if (st.overflow)
				pgphase_error_set(err, PGPHASE_EXIT_USAGE, "planner template has too many "
						  "placeholders");
			break;
		}
		sbuf_addf(&out, "%s%s", i ? ";\n" : "", one);
		free(one);
	}
	/* put the template's own nodes back before the tree is freed */
	while (st.n_swaps > 0) {
		st.n_swaps--;
		*st.where[st.n_swaps] = st.old[st.n_swaps];
	}
	if (ok)
		result = sbuf_detach(&out);
	sbuf_release(&out);
	return result;
}

char *sql_render(const char *text, const struct sql_graft *grafts, size_t n,
		 struct pgphase_error *err)
{
	struct pgphase_sql sql;
	PgQuery__Node **nodes;
	char *out;

	if (pgphase_sql_parse(&sql, text, "<planner template>", err) < 0)
		return NULL;
	nodes = xcalloc(sql.n ? sql.n : 1, sizeof(*nodes));
	for (size_t i = 0; i < sql.n; i++)
		nodes[i] = sql.stmts[i].node;
	out = render_nodes(nodes, sql.n, grafts, n, err);
	free(nodes);
	pgphase_sql_release(&sql);
	return out;
}

char *sql_renderf(struct pgphase_error *err, const char *fmt, ...)
{
	va_list ap;
	char *text, *out;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	out = sql_render(text, NULL, 0, err);
	free(text);
	return out;
}

char *sql_ident(const char *name)
{
	return quote_ident_always(name);
}

char *sql_rel(const PgQuery__RangeVar *rv)
{
	char *rel = quote_ident_always(rv->relname), *out;

	if (!rv->schemaname || !rv->schemaname[0])
		return rel;
	{
		char *sch = quote_ident_always(rv->schemaname);

		out = xasprintf("%s.%s", sch, rel);
		free(sch);
	}
	free(rel);
	return out;
}

char *sql_rel_display(const PgQuery__RangeVar *rv)
{
	if (rv->schemaname && rv->schemaname[0])
		return xasprintf("%s.%s", rv->schemaname, rv->relname);
	return xstrdup(rv->relname);
}

char *sql_object_name(const char *a, const char *b, const char *suffix)
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
		return xasprintf("%.*s_%.*s_%s", (int)la, a, (int)lb, b, suffix);
	return xasprintf("%.*s_%s", (int)la, a, suffix);
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
