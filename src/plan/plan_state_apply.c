/*
 * What each statement does to the schema model (src/plan/plan_state.c): CREATE TABLE (its
 * columns with type, NOT NULL and default, its primary key and named constraints), CREATE
 * TABLE AS / SELECT INTO / CREATE [MATERIALIZED] VIEW (columns unknown), renames of
 * relations, columns, indexes and constraints, ALTER TABLE ... SET SCHEMA, the ALTER TABLE
 * sub-commands on columns and constraints, DROP of relations and indexes, CREATE INDEX.
 * Anything else leaves the model as it is.  Reads only the statement: never the catalog.
 */
#include <string.h>

#include "plan/plan_state.h"
#include "base/util.h"

/* A NULL-terminated list of the String nodes' strings, in the arena. */
static const char **name_list(struct plan_state *st, PgQuery__Node *const *v, size_t n)
{
	const char **out = arena_alloc(st->arena, (n + 1) * sizeof(*out));
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const char *s = sql_str(v[i]);

		if (!s)
			return NULL; /* not a plain column: no key from it */
		out[k++] = s;
	}
	out[k] = NULL;
	return out;
}

static void set_key(struct plan_state *st, struct st_rel *r, const char **key, const char *conname)
{
	r->pub.key = key;
	r->pub.key_known = true;
	r->pk_name = conname && conname[0] ? conname
					    : arena_printf(st->arena, "%s_pkey", r->pub.name);
	for (size_t i = 0; key && key[i]; i++)
		st_col_for_change(st, r, key[i])->not_null = 1;
}

/* A column's definition: type, NOT NULL, default (ADD COLUMN and CREATE TABLE). */
static void col_define(struct plan_state *st, struct st_rel *r, const PgQuery__ColumnDef *cd)
{
	struct plan_state_col *c = st_col_new(st, r, cd->colname);

	c->is_new = st->current;
	st_fresh(st, &c->is_new);
	c->type = cd->type_name;
	c->not_null = cd->is_not_null;
	c->dflt_known = true;
	c->dflt = cd->raw_default;
	for (size_t k = 0; k < cd->n_constraints; k++) {
		const PgQuery__Constraint *con;

		if (cd->constraints[k]->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
			continue;
		con = cd->constraints[k]->constraint;
		switch (con->contype) {
		case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
			c->not_null = 1;
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT:
			c->dflt = con->raw_expr;
			break;
		case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY: {
			const char **key = arena_alloc(st->arena, 2 * sizeof(*key));

			key[0] = cd->colname;
			key[1] = NULL;
			set_key(st, r, key, con->conname);
			c->not_null = 1;
			break;
		}
		default:
			break;
		}
		if (con->conname && con->conname[0])
			st_map_put(st->arena, &r->cons, con->conname, NULL,
				arena_alloc(st->arena, sizeof(struct st_con)));
	}
}

/* A table constraint (CREATE TABLE element or ALTER TABLE ADD CONSTRAINT). */
static void con_define(struct plan_state *st, struct st_rel *r, const PgQuery__Constraint *con)
{
	struct st_con *sc = arena_alloc(st->arena, sizeof(*sc));

	sc->gone = false;
	if (con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) {
		const char **key = NULL;

		if (con->n_keys) {
			key = name_list(st, con->keys, con->n_keys);
		} else if (con->indexname && con->indexname[0]) {
			struct st_ent *e = st_map_find(&st->idx, con->indexname, r->pub.schema, NULL);
			struct st_idx *ix = e ? e->val : NULL;

			key = ix && !ix->gone ? ix->cols : NULL;
		}
		if (key)
			set_key(st, r, key, con->conname && con->conname[0] ? con->conname
									: con->indexname);
	}
	if (con->conname && con->conname[0])
		st_map_put(st->arena, &r->cons, con->conname, NULL, sc);
}

/* ---- replaying statements --------------------------------------------------------------- */

static void apply_create(struct plan_state *st, const PgQuery__CreateStmt *cs)
{
	struct st_rel *r;

	if (cs->if_not_exists && st_rel_find(st, cs->relation->schemaname, cs->relation->relname, NULL))
		return;
	r = st_rel_create(st, cs->relation);
	r->pub.maybe_old = cs->if_not_exists;
	r->pub.all_columns = !cs->n_inh_relations && !cs->partbound && !cs->of_typename;
	r->pub.partitioned = cs->partspec != NULL;
	for (size_t i = 0; i < cs->n_table_elts; i++) {
		const PgQuery__Node *e = cs->table_elts[i];

		if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
			col_define(st, r, e->column_def);
		else if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			con_define(st, r, e->constraint);
		else
			r->pub.all_columns = false; /* LIKE: columns of another table */
	}
	for (size_t i = 0; i < cs->n_constraints; i++)
		if (cs->constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			con_define(st, r, cs->constraints[i]->constraint);
}

/* CREATE TABLE AS, SELECT INTO, CREATE MATERIALIZED VIEW, CREATE VIEW: columns unknown. */
static void apply_create_as(struct plan_state *st, const PgQuery__RangeVar *rv, bool if_not_exists)
{
	if (!rv || (if_not_exists && st_rel_find(st, rv->schemaname, rv->relname, NULL)))
		return;
	st_rel_create(st, rv)->pub.maybe_old = if_not_exists;
}

static void rename_rel(struct plan_state *st, const PgQuery__RangeVar *rv, const char *schema,
		       const char *newname)
{
	struct st_rel *r = st_rel_for_change(st, rv);

	st_rel_tombstone(st, rv->schemaname, rv->relname);
	r->pub.name = newname;
	if (schema)
		r->pub.schema = schema;
	st_map_put(st->arena, &st->rels, newname, r->pub.schema, r);
}

static void rename_column(struct plan_state *st, struct st_rel *r, const char *from, const char *to)
{
	struct plan_state_col *old = st_col_for_change(st, r, from);
	struct plan_state_col *c = st_col_new(st, r, to);
	size_t n = 0;

	*c = *old;
	c->name = to;
	old->gone = true;
	for (; r->pub.key && r->pub.key[n]; n++)
		;
	if (n) {
		/* a key column keeps its place under its new name */
		const char **key = arena_alloc(st->arena, (n + 1) * sizeof(*key));

		for (size_t i = 0; i <= n; i++)
			key[i] = r->pub.key[i] && strcmp(r->pub.key[i], from) == 0 ? to : r->pub.key[i];
		r->pub.key = key;
	}
}

static void apply_rename(struct plan_state *st, const PgQuery__RenameStmt *rs)
{
	struct st_rel *r;

	if (!rs->relation)
		return; /* not a relation's: functions, types, schemas... */
	switch (rs->rename_type) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
		rename_rel(st, rs->relation, NULL, rs->newname);
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX: {
		struct st_ent *e = st_map_find(&st->idx, rs->relation->relname, rs->relation->schemaname,
					    NULL);
		struct st_idx *ix = arena_alloc(st->arena, sizeof(*ix)), *old = e ? e->val : NULL;

		memset(ix, 0, sizeof(*ix));
		if (old && !old->gone) {
			*ix = *old;
			old->gone = true;
		}
		st_map_put(st->arena, &st->idx, rs->newname, rs->relation->schemaname, ix);
		break;
	}
	case PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN:
		rename_column(st, st_rel_for_change(st, rs->relation), rs->subname, rs->newname);
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT: {
		struct st_con *c = arena_alloc(st->arena, sizeof(*c));

		r = st_rel_for_change(st, rs->relation);
		c->gone = false;
		st_map_put(st->arena, &r->cons, rs->newname, NULL, c);
		if (r->pk_name && strcmp(r->pk_name, rs->subname) == 0)
			r->pk_name = rs->newname;
		break;
	}
	default:
		break;
	}
}

/* Indexes on a dropped column go with it (PostgreSQL drops them): their names are free. */
static void drop_column_indexes(struct plan_state *st, const struct st_rel *r, const char *column)
{
	for (size_t b = 0; b < st->idx.nb; b++)
		for (struct st_ent *e = st->idx.b[b]; e; e = e->next) {
			struct st_idx *ix = e->val;

			for (size_t i = 0; ix->rel == r && !ix->gone && ix->cols && ix->cols[i]; i++)
				if (strcmp(ix->cols[i], column) == 0)
					ix->gone = true;
		}
}

static void apply_alter_cmd(struct plan_state *st, struct st_rel *r,
			    const PgQuery__AlterTableCmd *c)
{
	struct plan_state_col *col;

	switch (c->subtype) {
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
		if (c->def && c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF &&
		    !(c->missing_ok && st_col_find(r, c->def->column_def->colname, NULL)))
			col_define(st, r, c->def->column_def);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
		st_col_for_change(st, r, c->name)->gone = true;
		drop_column_indexes(st, r, c->name);
		for (size_t i = 0; r->pub.key && r->pub.key[i]; i++)
			if (strcmp(r->pub.key[i], c->name) == 0) {
				r->pub.key = NULL; /* the primary key goes with its column */
				r->pub.key_known = true;
				break;
			}
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
		col = st_col_for_change(st, r, c->name);
		if (c->def && c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
			col->type = c->def->column_def->type_name;
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
		st_col_for_change(st, r, c->name)->not_null = 1;
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
		st_col_for_change(st, r, c->name)->not_null = 0;
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault:
		col = st_col_for_change(st, r, c->name);
		col->dflt_known = true;
		col->dflt = c->def; /* NULL: DROP DEFAULT */
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
		if (c->def && c->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			con_define(st, r, c->def->constraint);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint: {
		struct st_con *gone = arena_alloc(st->arena, sizeof(*gone));

		gone->gone = true;
		st_map_put(st->arena, &r->cons, c->name, NULL, gone);
		if (c->name) { /* a UNIQUE / PRIMARY KEY / EXCLUDE constraint's index goes too */
			struct st_idx *ix = arena_alloc(st->arena, sizeof(*ix));

			memset(ix, 0, sizeof(*ix));
			ix->gone = true;
			st_map_put(st->arena, &st->idx, c->name, r->pub.schema, ix);
		}
		if (r->pk_name && strcmp(r->pk_name, c->name) == 0) {
			r->pub.key = NULL;
			r->pub.key_known = true;
			r->pk_name = NULL;
		}
		break;
	}
	default:
		break;
	}
}

static void apply_alter(struct plan_state *st, const PgQuery__AlterTableStmt *at)
{
	struct st_rel *r;

	if (!at->relation)
		return;
	r = st_rel_for_change(st, at->relation);
	for (size_t i = 0; i < at->n_cmds; i++)
		if (at->cmds[i]->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
			apply_alter_cmd(st, r, at->cmds[i]->alter_table_cmd);
}

/* The last two strings of a DROP object's name list: schema (or NULL) and name. */
static bool drop_name(const PgQuery__Node *o, const char **schema, const char **name)
{
	const PgQuery__List *l;

	if (o->node_case != PG_QUERY__NODE__NODE_LIST || !o->list->n_items)
		return false;
	l = o->list;
	*name = sql_str(l->items[l->n_items - 1]);
	*schema = l->n_items > 1 ? sql_str(l->items[l->n_items - 2]) : NULL;
	return *name != NULL;
}

static void apply_drop(struct plan_state *st, const PgQuery__DropStmt *d)
{
	for (size_t i = 0; i < d->n_objects; i++) {
		const char *schema, *name;

		if (!drop_name(d->objects[i], &schema, &name))
			continue;
		switch (d->remove_type) {
		case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
		case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
		case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
		case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
		case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
			st_rel_tombstone(st, schema, name);
			break;
		case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX: {
			struct st_idx *ix = arena_alloc(st->arena, sizeof(*ix));

			memset(ix, 0, sizeof(*ix));
			ix->gone = true;
			st_map_put(st->arena, &st->idx, name, schema, ix);
			break;
		}
		default:
			break;
		}
	}
}

static void apply_index(struct plan_state *st, const PgQuery__IndexStmt *is)
{
	struct st_idx *ix;
	size_t n = is->n_index_params;

	if (!is->idxname || !is->idxname[0] || !is->relation)
		return; /* a generated name: nothing can refer to it by a name we know */
	ix = arena_alloc(st->arena, sizeof(*ix));
	memset(ix, 0, sizeof(*ix));
	ix->rel = st_rel_for_change(st, is->relation);
	ix->cols = arena_alloc(st->arena, (n + 1) * sizeof(*ix->cols));
	for (size_t i = 0; i < n && ix->cols; i++) {
		const PgQuery__Node *p = is->index_params[i];

		if (p->node_case != PG_QUERY__NODE__NODE_INDEX_ELEM || !p->index_elem->name ||
		    !p->index_elem->name[0])
			ix->cols = NULL; /* an expression: not a key */
		else
			ix->cols[i] = p->index_elem->name;
	}
	if (ix->cols)
		ix->cols[n] = NULL;
	st_map_put(st->arena, &st->idx, is->idxname, is->relation->schemaname, ix);
}

void st_apply(struct plan_state *st, const PgQuery__Node *n)
{
	st_apply_deps(st, n);
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		apply_create(st, n->create_stmt);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		if (n->create_table_as_stmt->into)
			apply_create_as(st, n->create_table_as_stmt->into->rel,
					n->create_table_as_stmt->if_not_exists);
		break;
	case PG_QUERY__NODE__NODE_SELECT_STMT:
		if (n->select_stmt->into_clause)
			apply_create_as(st, n->select_stmt->into_clause->rel, false);
		break;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		if (!n->view_stmt->replace || !st_rel_find(st, n->view_stmt->view->schemaname,
							n->view_stmt->view->relname, NULL))
			apply_create_as(st, n->view_stmt->view, false);
		break;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		apply_rename(st, n->rename_stmt);
		break;
	case PG_QUERY__NODE__NODE_ALTER_OBJECT_SCHEMA_STMT: {
		const PgQuery__AlterObjectSchemaStmt *s = n->alter_object_schema_stmt;

		if (s->relation && s->object_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
			rename_rel(st, s->relation, s->newschema, s->relation->relname);
		break;
	}
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		apply_alter(st, n->alter_table_stmt);
		break;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		apply_drop(st, n->drop_stmt);
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		apply_index(st, n->index_stmt);
		break;
	default:
		break;
	}
}

/* A migration's temporary tables end with its session. */
void st_forget_temps(struct plan_state *st)
{
	for (size_t i = 0; i < st->n_temps; i++)
		st->temps[i]->forgotten = true;
	st->n_temps = 0;
}
