/*
 * The planner's schema model: what the statements of the migrations did so far, replayed in
 * order as the planner walks them.  Relations created (tables, temporary tables, CREATE TABLE
 * AS, views), renamed, moved to another schema and dropped; columns added (type, NOT NULL and
 * default from the ColumnDef), renamed, dropped, retyped, SET/DROP NOT NULL and DEFAULT;
 * primary keys, constraints and indexes created, renamed and dropped.  Earlier migrations
 * that are not complete on the database (offline: every earlier one) are replayed first,
 * because everything is planned before the first change.
 *
 * The model knows only what the statements say: it never asks the catalog (plan_model.c
 * combines both: the catalog answers for what the model has not touched, the model for what
 * it has).  A renamed relation or column remembers the catalog name it had.
 *
 * Names are found through hash maps (planning stays linear in the number of statements: the
 * linter plans files of 20,000 statements).  Everything lives in one arena: the plan's, or,
 * when planning a migration without its directory (the linter asks statement by statement),
 * a cache on the migration that moves forward with the questions.
 */
#include <stdlib.h>
#include <string.h>

#include "pgphase/state.h"
#include "plan/plan_int.h"
#include "base/util.h"

/* ---- hash map: name -> value, newest first among equal names --------------------------- */

struct st_ent {
	const char *key;
	const char *schema; /* relations and indexes: the schema written ("" when none) */
	uint64_t h;
	void *val;
	struct st_ent *next;
};

struct st_map {
	struct st_ent **b;
	size_t nb, n;
};

static void map_grow(struct pgphase_arena *a, struct st_map *m)
{
	size_t nb = m->nb ? m->nb * 2 : 16;
	struct st_ent **b = arena_alloc(a, nb * sizeof(*b));

	memset(b, 0, nb * sizeof(*b));
	for (size_t i = 0; i < m->nb; i++) {
		/* appended in chain order: equal names keep newest first */
		struct st_ent *e = m->b[i], *next;

		for (; e; e = next) {
			struct st_ent **tail = &b[e->h & (nb - 1)];

			next = e->next;
			while (*tail)
				tail = &(*tail)->next;
			e->next = NULL;
			*tail = e;
		}
	}
	m->b = b;
	m->nb = nb;
}

static void map_put(struct pgphase_arena *a, struct st_map *m, const char *key, const char *schema,
		    void *val)
{
	struct st_ent *e = arena_alloc(a, sizeof(*e));

	if (m->n + 1 > m->nb)
		map_grow(a, m);
	e->key = key;
	e->schema = schema ? schema : "";
	e->h = str_hash(key);
	e->val = val;
	e->next = m->b[e->h & (m->nb - 1)];
	m->b[e->h & (m->nb - 1)] = e;
	m->n++;
}

/* An unqualified name may mean the qualified one: the same object when either has none. */
static bool same_schema(const char *a, const char *b)
{
	return !a || !b || !a[0] || !b[0] || strcmp(a, b) == 0;
}

/* The first entry named key (schema compatible when schema is not NULL), or NULL. */
static struct st_ent *map_find(const struct st_map *m, const char *key, const char *schema,
			       struct st_ent *after)
{
	uint64_t h;
	struct st_ent *e;

	if (!m->nb || !key)
		return NULL;
	h = str_hash(key);
	for (e = after ? after->next : m->b[h & (m->nb - 1)]; e; e = e->next)
		if (e->h == h && strcmp(e->key, key) == 0 && (!schema || same_schema(e->schema, schema)))
			return e;
	return NULL;
}

/* ---- the model ------------------------------------------------------------------------- */

struct st_rel {
	struct plan_state_rel pub;
	struct st_map cols;     /* name -> struct plan_state_col */
	struct st_map cons;     /* constraint name -> struct st_con */
	const char *pk_name;    /* the primary key constraint's name, when the model knows it */
	bool forgotten;         /* a temporary table of an earlier migration's session */
};

struct st_con {
	bool gone;
};

struct st_idx {
	struct st_rel *rel;
	const char **cols; /* plain columns, NULL-terminated; NULL for expression indexes */
	bool gone;
};

struct plan_state {
	struct pgphase_arena *arena;
	bool own_arena;      /* the migration's cache: freed with it */
	const struct pgphase_migration *m;
	size_t pos;          /* statements of m replayed */
	bool current;        /* replaying m itself: what it creates is new */
	struct st_map rels;  /* relation name -> struct st_rel (tombstones: pub.gone) */
	struct st_map idx;   /* index name -> struct st_idx */
	struct st_rel **temps; /* this migration's temporary tables (arena array) */
	size_t n_temps, cap_temps;
};

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* The live relation named by (schema, name), or NULL (unknown, or a tombstone's). */
static struct st_rel *rel_find(struct plan_state *st, const char *schema, const char *name,
			       bool *tombstone)
{
	struct st_ent *e = NULL;

	if (tombstone)
		*tombstone = false;
	while ((e = map_find(&st->rels, name, schema, e))) {
		struct st_rel *r = e->val;

		if (r->forgotten)
			continue;
		if (r->pub.gone) {
			if (tombstone)
				*tombstone = true;
			return NULL;
		}
		return r;
	}
	return NULL;
}

static struct st_rel *rel_new(struct plan_state *st, const char *schema, const char *name)
{
	struct st_rel *r = arena_alloc(st->arena, sizeof(*r));

	memset(r, 0, sizeof(*r));
	r->pub.schema = str_or_empty(schema);
	r->pub.name = name;
	r->pub.is_new = st->current;
	map_put(st->arena, &st->rels, name, schema, r);
	return r;
}

static void rel_tombstone(struct plan_state *st, const char *schema, const char *name)
{
	struct st_rel *r = rel_new(st, schema, name);

	r->pub.gone = true;
}

/* The relation a statement changes: the model's, else an entry for the catalog's. */
static struct st_rel *rel_for_change(struct plan_state *st, const PgQuery__RangeVar *rv)
{
	struct st_rel *r = rel_find(st, rv->schemaname, rv->relname, NULL);

	if (r)
		return r;
	r = rel_new(st, rv->schemaname, rv->relname);
	r->pub.is_new = false;
	r->pub.cat_schema = r->pub.schema;
	r->pub.cat_name = rv->relname;
	return r;
}

static struct st_rel *rel_create(struct plan_state *st, const PgQuery__RangeVar *rv)
{
	struct st_rel *r = rel_new(st, rv->schemaname, rv->relname);

	r->pub.created = true;
	r->pub.key_known = true; /* no key until one is declared */
	r->pub.temp = rv->relpersistence && strcmp(rv->relpersistence, "t") == 0;
	if (r->pub.temp) {
		if (st->n_temps == st->cap_temps) {
			size_t cap = st->cap_temps ? st->cap_temps * 2 : 8;
			struct st_rel **v = arena_alloc(st->arena, cap * sizeof(*v));

			if (st->n_temps)
				memcpy(v, st->temps, st->n_temps * sizeof(*v));
			st->temps = v;
			st->cap_temps = cap;
		}
		st->temps[st->n_temps++] = r;
	}
	return r;
}

static struct plan_state_col *col_find(struct st_rel *r, const char *name, bool *tombstone)
{
	struct st_ent *e = map_find(&r->cols, name, NULL, NULL);
	struct plan_state_col *c = e ? e->val : NULL;

	if (tombstone)
		*tombstone = c && c->gone;
	return c && !c->gone ? c : NULL;
}

static struct plan_state_col *col_new(struct plan_state *st, struct st_rel *r, const char *name)
{
	struct plan_state_col *c = arena_alloc(st->arena, sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->not_null = -1;
	map_put(st->arena, &r->cols, name, NULL, c);
	return c;
}

/* The column a statement changes: the model's, else an entry for the catalog's. */
static struct plan_state_col *col_for_change(struct plan_state *st, struct st_rel *r,
					     const char *name)
{
	struct plan_state_col *c = col_find(r, name, NULL);

	if (c)
		return c;
	c = col_new(st, r, name);
	c->catalog = r->pub.created ? NULL : name;
	return c;
}

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
		col_for_change(st, r, key[i])->not_null = 1;
}

/* A column's definition: type, NOT NULL, default (ADD COLUMN and CREATE TABLE). */
static void col_define(struct plan_state *st, struct st_rel *r, const PgQuery__ColumnDef *cd)
{
	struct plan_state_col *c = col_new(st, r, cd->colname);

	c->is_new = st->current;
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
			map_put(st->arena, &r->cons, con->conname, NULL,
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
			struct st_ent *e = map_find(&st->idx, con->indexname, r->pub.schema, NULL);
			struct st_idx *ix = e ? e->val : NULL;

			key = ix && !ix->gone ? ix->cols : NULL;
		}
		if (key)
			set_key(st, r, key, con->conname && con->conname[0] ? con->conname
									: con->indexname);
	}
	if (con->conname && con->conname[0])
		map_put(st->arena, &r->cons, con->conname, NULL, sc);
}

/* ---- replaying statements --------------------------------------------------------------- */

static void apply_create(struct plan_state *st, const PgQuery__CreateStmt *cs)
{
	struct st_rel *r;

	if (cs->if_not_exists && rel_find(st, cs->relation->schemaname, cs->relation->relname, NULL))
		return;
	r = rel_create(st, cs->relation);
	r->pub.maybe_old = cs->if_not_exists;
	r->pub.all_columns = !cs->n_inh_relations && !cs->partbound && !cs->of_typename;
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
	if (!rv || (if_not_exists && rel_find(st, rv->schemaname, rv->relname, NULL)))
		return;
	rel_create(st, rv)->pub.maybe_old = if_not_exists;
}

static void rename_rel(struct plan_state *st, const PgQuery__RangeVar *rv, const char *schema,
		       const char *newname)
{
	struct st_rel *r = rel_for_change(st, rv);

	rel_tombstone(st, rv->schemaname, rv->relname);
	r->pub.name = newname;
	if (schema)
		r->pub.schema = schema;
	map_put(st->arena, &st->rels, newname, r->pub.schema, r);
}

static void rename_column(struct plan_state *st, struct st_rel *r, const char *from, const char *to)
{
	struct plan_state_col *old = col_for_change(st, r, from);
	struct plan_state_col *c = col_new(st, r, to);
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
		struct st_ent *e = map_find(&st->idx, rs->relation->relname, rs->relation->schemaname,
					    NULL);
		struct st_idx *ix = arena_alloc(st->arena, sizeof(*ix)), *old = e ? e->val : NULL;

		memset(ix, 0, sizeof(*ix));
		if (old && !old->gone) {
			*ix = *old;
			old->gone = true;
		}
		map_put(st->arena, &st->idx, rs->newname, rs->relation->schemaname, ix);
		break;
	}
	case PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN:
		rename_column(st, rel_for_change(st, rs->relation), rs->subname, rs->newname);
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT: {
		struct st_con *c = arena_alloc(st->arena, sizeof(*c));

		r = rel_for_change(st, rs->relation);
		c->gone = false;
		map_put(st->arena, &r->cons, rs->newname, NULL, c);
		if (r->pk_name && strcmp(r->pk_name, rs->subname) == 0)
			r->pk_name = rs->newname;
		break;
	}
	default:
		break;
	}
}

static void apply_alter_cmd(struct plan_state *st, struct st_rel *r, const PgQuery__AlterTableCmd *c)
{
	struct plan_state_col *col;

	switch (c->subtype) {
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
		if (c->def && c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF &&
		    !(c->missing_ok && col_find(r, c->def->column_def->colname, NULL)))
			col_define(st, r, c->def->column_def);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
		col_for_change(st, r, c->name)->gone = true;
		for (size_t i = 0; r->pub.key && r->pub.key[i]; i++)
			if (strcmp(r->pub.key[i], c->name) == 0) {
				r->pub.key = NULL; /* the primary key goes with its column */
				r->pub.key_known = true;
				break;
			}
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
		col = col_for_change(st, r, c->name);
		if (c->def && c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
			col->type = c->def->column_def->type_name;
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
		col_for_change(st, r, c->name)->not_null = 1;
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
		col_for_change(st, r, c->name)->not_null = 0;
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault:
		col = col_for_change(st, r, c->name);
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
		map_put(st->arena, &r->cons, c->name, NULL, gone);
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
	r = rel_for_change(st, at->relation);
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
			rel_tombstone(st, schema, name);
			break;
		case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX: {
			struct st_idx *ix = arena_alloc(st->arena, sizeof(*ix));

			memset(ix, 0, sizeof(*ix));
			ix->gone = true;
			map_put(st->arena, &st->idx, name, schema, ix);
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
	ix->rel = rel_for_change(st, is->relation);
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
	map_put(st->arena, &st->idx, is->idxname, is->relation->schemaname, ix);
}

static void apply(struct plan_state *st, const PgQuery__Node *n)
{
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
		if (!n->view_stmt->replace || !rel_find(st, n->view_stmt->view->schemaname,
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
static void forget_temps(struct plan_state *st)
{
	for (size_t i = 0; i < st->n_temps; i++)
		st->temps[i]->forgotten = true;
	st->n_temps = 0;
}

/* ---- building and advancing ------------------------------------------------------------ */

static void cache_free(void *p)
{
	struct plan_state *st = p;

	pgphase_arena_free(st->arena);
}

/* Versions complete on the database: their effects are the catalog's (NULL: none known). */
static struct pgphase_state *load_complete(struct plan_ctx *ctx, struct pgphase_state *state)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;

	if (!ctx->opts.session || pgphase_state_load(ctx->opts.session, state, &e) < 0) {
		pgphase_error_release(&e); /* no state to read: every earlier migration is pending */
		return NULL;
	}
	return state;
}

static struct plan_state *build(struct plan_ctx *ctx)
{
	struct pgphase_migration *m = (struct pgphase_migration *)ctx->m; /* its cache slot */
	struct pgphase_migration_set *set = ctx->opts.set;
	bool cached = !set; /* without a directory the model depends on m alone */
	struct pgphase_arena *a = cached ? pgphase_arena_new() : ctx->arena;
	struct plan_state *st = arena_alloc(a, sizeof(*st));
	struct pgphase_state state, *done = NULL;

	memset(st, 0, sizeof(*st));
	st->arena = a;
	st->own_arena = cached;
	st->m = m;
	if (cached) {
		if (m->plan_index_free)
			m->plan_index_free(m->plan_index);
		m->plan_index = st;
		m->plan_index_free = cache_free;
	}
	if (set)
		done = load_complete(ctx, &state);
	for (size_t i = 0; set && i < set->n && set->items[i].version < m->version; i++) {
		struct pgphase_migration *o = &set->items[i];
		const struct pgphase_state_row *row = done ? pgphase_state_find(done, o->version) : NULL;
		struct pgphase_error e = PGPHASE_ERROR_INIT;

		if (row && row->state == PGPHASE_STATE_COMPLETE)
			continue;
		if (pgphase_migration_parse(o, &e) == 0)
			for (size_t k = 0; k < o->up.sql.n; k++)
				apply(st, o->up.sql.stmts[k].node);
		pgphase_error_release(&e); /* a broken earlier migration is reported on its own */
		forget_temps(st);
	}
	if (done)
		pgphase_state_release(done);
	st->current = true;
	return st;
}

struct plan_state *plan_state_at(struct plan_ctx *ctx, size_t before)
{
	struct plan_state *st = ctx->state;
	const struct pgphase_sql *sql = &ctx->m->up.sql;

	if (!st && !ctx->opts.set && ctx->m->plan_index_free == cache_free)
		st = ctx->m->plan_index; /* the linter's: it asks in statement order */
	if (!st || st->pos > before)
		st = build(ctx);
	for (; st->pos < before && st->pos < sql->n; st->pos++)
		apply(st, sql->stmts[st->pos].node);
	ctx->state = st;
	ctx->pos = before;
	return st;
}

const struct plan_state_rel *plan_state_rel(struct plan_state *st, const PgQuery__RangeVar *rv)
{
	static const struct plan_state_rel gone = { .gone = true };
	bool tombstone;
	struct st_rel *r;

	if (!rv)
		return NULL;
	r = rel_find(st, rv->schemaname, rv->relname, &tombstone);
	return r ? &r->pub : tombstone ? &gone : NULL;
}

const struct plan_state_col *plan_state_col(struct plan_state *st,
					    const struct plan_state_rel *rel, const char *column)
{
	static const struct plan_state_col gone = { .gone = true, .not_null = -1 };
	struct st_rel *r = (struct st_rel *)rel; /* pub is the first member */
	struct plan_state_col *c;
	bool tombstone;

	(void)st;
	if (!rel || rel->gone || !column)
		return NULL;
	c = col_find(r, column, &tombstone);
	return c ? c : tombstone ? &gone : NULL;
}
