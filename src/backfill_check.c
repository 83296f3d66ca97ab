/*
 * Backfill statements as trees: the checks a statement must pass before it can run in
 * batches, and the rendering of batch statements by grafting the user's SET list, FROM/USING
 * list, table and WHERE clause into a parsed template, then deparsing.  Nothing here looks
 * at SQL text: a generic walk over the protobuf-c descriptors of libpg_query's AST finds
 * column references and placeholders.  Does not talk to the database (see backfill_key.c).
 */
#include <stdlib.h>
#include <string.h>

#include "backfill.h"
#include "util.h"

/* ---- a generic walk over the AST --------------------------------------------------- */

/* Visit m (stored at *slot); return true to skip its children. */
struct walker {
	bool (*fn)(struct walker *w, ProtobufCMessage *m, ProtobufCMessage **slot);
	void *arg;
};

static void walk(struct walker *w, ProtobufCMessage *m, ProtobufCMessage **slot)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	char *base = (char *)m;

	if (w->fn(w, m, slot))
		return;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		/* a Node is a oneof: only the member its case names is valid */
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage **arr = *(ProtobufCMessage ***)(base + f->offset);

			for (size_t k = 0; k < n; k++)
				if (arr[k])
					walk(w, arr[k], &arr[k]);
		} else {
			ProtobufCMessage **p = (ProtobufCMessage **)(base + f->offset);

			if (*p)
				walk(w, *p, p);
		}
	}
}

static bool is(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d)
{
	return m->descriptor == d;
}

/* Last name of a column reference ("a" for x.a), or NULL for x.*. */
static const char *column_name(const PgQuery__ColumnRef *c)
{
	const PgQuery__Node *last = c->n_fields ? c->fields[c->n_fields - 1] : NULL;

	return last && last->node_case == PG_QUERY__NODE__NODE_STRING ? last->string->sval : NULL;
}

const PgQuery__RangeVar *bf_relation(const PgQuery__Node *stmt)
{
	return stmt->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT ? stmt->update_stmt->relation
								    : stmt->delete_stmt->relation;
}

const PgQuery__Node *bf_where(const PgQuery__Node *stmt)
{
	return stmt->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT ? stmt->update_stmt->where_clause
								    : stmt->delete_stmt->where_clause;
}

/* ---- checks ------------------------------------------------------------------------ */

struct names_seen {
	PgQuery__Node **targets; /* the UPDATE's SET list */
	size_t n_targets;
	bool found;
	bool current_of;
};

static bool find_set_column(struct walker *w, ProtobufCMessage *m, ProtobufCMessage **slot)
{
	struct names_seen *ns = w->arg;
	const char *name;

	(void)slot;
	if (is(m, &pg_query__current_of_expr__descriptor))
		ns->current_of = true;
	if (!is(m, &pg_query__column_ref__descriptor))
		return false;
	name = column_name((const PgQuery__ColumnRef *)m);
	for (size_t i = 0; name && i < ns->n_targets; i++) {
		const PgQuery__ResTarget *t = ns->targets[i]->res_target;

		if (t && t->name && strcmp(t->name, name) == 0)
			ns->found = true;
	}
	return true;
}

static int refuse(const struct pgphase_backfill_spec *spec, struct pgphase_error *err,
		  const char *what)
{
	if (spec->file)
		return pgphase_error_at(err, PGPHASE_EXIT_USAGE, "backfill-refused", spec->file,
					spec->line, spec->column, "%s", what);
	return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "%s", what);
}

int pgphase_backfill_check(const struct pgphase_backfill_spec *spec, struct pgphase_error *err)
{
	const PgQuery__Node *st = spec->stmt;
	bool upd = st && st->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT;
	struct names_seen ns = { NULL, 0, false, false };
	struct walker w = { find_set_column, &ns };
	const PgQuery__Node *where;
	char *what;
	int rc;

	if (!st || (!upd && st->node_case != PG_QUERY__NODE__NODE_DELETE_STMT))
		return refuse(spec, err, "only UPDATE and DELETE statements can run as a backfill");
	if (upd ? st->update_stmt->with_clause || st->update_stmt->n_returning_list
		: st->delete_stmt->with_clause || st->delete_stmt->n_returning_list) {
		refuse(spec, err, "cannot run a statement with WITH or RETURNING in batches");
		pgphase_error_hint(err, "drop the WITH/RETURNING clause, or put \"-- pgphase:as-is\" "
					"before it to run it once as written");
		return -1;
	}
	where = bf_where(st);
	if (upd) {
		ns.targets = st->update_stmt->target_list;
		ns.n_targets = st->update_stmt->n_target_list;
	}
	if (where)
		walk(&w, (ProtobufCMessage *)where, NULL);
	if (ns.current_of)
		return refuse(spec, err, "cannot run UPDATE/DELETE ... WHERE CURRENT OF in batches");
	if (!upd || ns.found)
		return 0;
	what = xasprintf("UPDATE of \"%s\" cannot run in batches: its WHERE clause %s, so it "
			 "cannot tell rows already changed from pending ones and a rerun would "
			 "change rows twice", bf_relation(st)->relname,
			 where ? "names no column the UPDATE sets" : "is missing");
	rc = refuse(spec, err, what);
	pgphase_error_hint(err, "add a condition on a column it sets, such as \"WHERE new_col IS "
				"NULL\" or \"WHERE col IS DISTINCT FROM <new value>\"; or put "
				"\"-- pgphase:as-is\" before it to run it once as written");
	free(what);
	return rc;
}

/* ---- rendering --------------------------------------------------------------------- */

struct saved {
	void *addr;
	void *copy;
	size_t len;
};

struct graft {
	const PgQuery__Node *stmt;
	struct saved *saves;
	size_t n, cap;
};

static void save(struct graft *g, void *addr, size_t len)
{
	GROW(g->saves, g->cap, g->n + 1);
	g->saves[g->n].addr = addr;
	g->saves[g->n].copy = xmalloc(len);
	memcpy(g->saves[g->n].copy, addr, len);
	g->saves[g->n++].len = len;
}

static void restore(struct graft *g)
{
	while (g->n > 0) {
		struct saved *s = &g->saves[--g->n];

		memcpy(s->addr, s->copy, s->len);
		free(s->copy);
	}
	free(g->saves);
}

static bool is_placeholder_rel(const PgQuery__RangeVar *rv)
{
	return rv && rv->relname && strcmp(rv->relname, "pgphase_rel") == 0 &&
	       (!rv->schemaname || !rv->schemaname[0]);
}

static bool graft_one(struct walker *w, ProtobufCMessage *m, ProtobufCMessage **slot)
{
	struct graft *g = w->arg;
	const PgQuery__Node *st = g->stmt;
	bool upd = st->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT;

	if (is(m, &pg_query__update_stmt__descriptor)) {
		PgQuery__UpdateStmt *u = (PgQuery__UpdateStmt *)m;

		/* the data change: "UPDATE pgphase_rel SET pgphase_set = NULL" */
		if (upd && is_placeholder_rel(u->relation) && u->n_target_list == 1 &&
		    u->target_list[0]->res_target && u->target_list[0]->res_target->name &&
		    strcmp(u->target_list[0]->res_target->name, "pgphase_set") == 0) {
			save(g, u, sizeof(*u));
			u->n_target_list = st->update_stmt->n_target_list;
			u->target_list = st->update_stmt->target_list;
			u->n_from_clause = st->update_stmt->n_from_clause;
			u->from_clause = st->update_stmt->from_clause;
		}
	} else if (is(m, &pg_query__delete_stmt__descriptor)) {
		PgQuery__DeleteStmt *d = (PgQuery__DeleteStmt *)m;

		if (!upd && is_placeholder_rel(d->relation)) {
			save(g, d, sizeof(*d));
			d->n_using_clause = st->delete_stmt->n_using_clause;
			d->using_clause = st->delete_stmt->using_clause;
		}
	} else if (is(m, &pg_query__range_var__descriptor)) {
		PgQuery__RangeVar *rv = (PgQuery__RangeVar *)m;

		if (is_placeholder_rel(rv)) {
			save(g, rv, sizeof(*rv));
			*rv = *bf_relation(st);
		}
		return true;
	} else if (is(m, &pg_query__node__descriptor) && slot) {
		PgQuery__Node *n = (PgQuery__Node *)m;
		const char *name = n->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
					   n->column_ref->n_fields == 1
				   ? column_name(n->column_ref) : NULL;

		if (name && strcmp(name, "pgphase_pred") == 0 && bf_where(st)) {
			save(g, slot, sizeof(*slot));
			*slot = (ProtobufCMessage *)bf_where(st);
			return true;
		}
	}
	return false;
}

char *bf_render(const char *tmpl, const PgQuery__Node *stmt, struct pgphase_error *err)
{
	struct pgphase_sql sql;
	struct graft g = { stmt, NULL, 0, 0 };
	struct walker w = { graft_one, &g };
	char *out;

	if (pgphase_sql_parse(&sql, tmpl, "<backfill template>", err) < 0)
		return NULL;
	if (sql.n != 1) {
		pgphase_sql_release(&sql);
		pgphase_error_set(err, PGPHASE_EXIT_FAILED, "backfill template is not one statement");
		return NULL;
	}
	walk(&w, (ProtobufCMessage *)sql.stmts[0].node, NULL);
	out = pgphase_node_deparse(sql.stmts[0].node, err);
	restore(&g);
	pgphase_sql_release(&sql);
	return out;
}
