/*
 * The schema model the linter builds while it walks a migrations directory in version
 * order: which tables, columns, constraints and other objects earlier statements created
 * (and in which migration and transaction), which CHECK constraints are validated, and —
 * from a first pass over the whole directory — which indexes exist anywhere.  Rules ask it
 * "was this table created earlier in the same migration?" or "is there a validated
 * CHECK (col IS NOT NULL)?" instead of guessing.
 *
 * Relations are matched by name, without schema: migrations rarely create two relations of
 * the same name in different schemas, and a qualified and an unqualified reference to the
 * same table must match.  DOWN sections are checked against the model but do not change it.
 * Keys are "<kind>\x1f<name>[\x1f<name>]" strings in one open-addressing hash map.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"
#include "base/util.h"

void lint_map_release(struct lint_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->objs[i / LINT_MAP_BLOCK][i % LINT_MAP_BLOCK].key);
	for (size_t i = 0; i < m->n_blocks; i++)
		free(m->objs[i]);
	free(m->objs);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* The slot of key (hash h): its object, or the empty slot where it would go. */
static struct lint_slot *probe(const struct lint_map *m, const char *key, uint64_t h)
{
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct lint_slot *sl = &m->slots[i];

		if (!sl->obj || (sl->hash == h && strcmp(sl->obj->key, key) == 0))
			return sl;
	}
}

struct lint_obj *lint_map_get(const struct lint_map *m, const char *key)
{
	if (!m->cap)
		return NULL;
	return probe(m, key, str_hash(key))->obj;
}

static void grow(struct lint_map *m)
{
	struct lint_slot *old = m->slots;
	size_t oldcap = m->cap;

	m->cap = oldcap ? oldcap * 2 : 256;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].obj)
			*probe(m, old[i].obj->key, old[i].hash) = old[i];
	free(old);
}

struct lint_obj *lint_map_put(struct lint_map *m, const char *key)
{
	uint64_t h = str_hash(key);
	struct lint_slot *sl;

	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	sl = probe(m, key, h);
	if (!sl->obj) {
		if (m->n % LINT_MAP_BLOCK == 0) {
			m->objs = xrealloc(m->objs, (m->n_blocks + 1) * sizeof(*m->objs));
			m->objs[m->n_blocks++] = xcalloc(LINT_MAP_BLOCK, sizeof(**m->objs));
		}
		sl->obj = &m->objs[m->n / LINT_MAP_BLOCK][m->n % LINT_MAP_BLOCK];
		sl->obj->key = xstrdup(key);
		sl->hash = h;
		m->n++;
	}
	return sl->obj;
}

/* Append sep (when not NUL) and s to the key in buf, truncating at LINT_KEY_MAX - 1 bytes. */
static void key_add(char buf[LINT_KEY_MAX], size_t *len, char sep, const char *s)
{
	if (sep && *len < LINT_KEY_MAX - 1)
		buf[(*len)++] = sep;
	while (*s && *len < LINT_KEY_MAX - 1)
		buf[(*len)++] = *s++;
	buf[*len] = '\0';
}

static const char *key2(char buf[LINT_KEY_MAX], char kind, const char *a, const char *b)
{
	size_t len = 1;

	buf[0] = kind;
	key_add(buf, &len, '\x1f', a);
	if (b)
		key_add(buf, &len, '\x1f', b);
	return buf;
}

static struct lint_obj *get(const struct pgphase_lint_ctx *ctx, char kind, const char *a,
			    const char *b)
{
	char key[LINT_KEY_MAX];

	return lint_map_get(&ctx->model, key2(key, kind, a, b));
}

static struct lint_obj *put(struct pgphase_lint_ctx *ctx, char kind, const char *a, const char *b)
{
	char key[LINT_KEY_MAX];
	struct lint_obj *o = lint_map_put(&ctx->model, key2(key, kind, a, b));

	o->migration = ctx->mig_seq;
	o->txn = ctx->txn;
	return o;
}

/* ---- indexes: every leading-column set of every index in the directory ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char *lint_index_key(char buf[LINT_KEY_MAX], const char *table, const char **cols, size_t n)
{
	const char *sorted[32];
	size_t len;

	if (n > 32)
		n = 32;
	memcpy(sorted, cols, n * sizeof(*cols));
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	len = 0;
	key_add(buf, &len, '\0', table);
	key_add(buf, &len, '\x1f', "");
	for (size_t i = 0; i < n; i++)
		key_add(buf, &len, i ? ',' : '\0', sorted[i]);
	return buf;
}

static void add_index(struct pgphase_lint_ctx *ctx, const char *table, const char **cols, size_t n)
{
	char key[LINT_KEY_MAX];

	for (size_t k = 1; k <= n; k++)
		lint_map_put(&ctx->indexes, lint_index_key(key, table, cols, k));
}

bool lint_has_index(const struct pgphase_lint_ctx *ctx, const char *table, const char **cols,
		    size_t n)
{
	char key[LINT_KEY_MAX];

	return n && lint_map_get(&ctx->indexes, lint_index_key(key, table, cols, n)) != NULL;
}

/* PRIMARY KEY / UNIQUE constraint (table- or column-level) as an index on table. */
static void constraint_index(struct pgphase_lint_ctx *ctx, const char *table,
			     const PgQuery__Constraint *c, const char *column)
{
	const char *cols[32];
	size_t n = 0;

	if (c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY &&
	    c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE)
		return;
	if (column)
		cols[n++] = column;
	for (size_t i = 0; i < c->n_keys && n < 32; i++)
		if (lint_str(c->keys[i]))
			cols[n++] = lint_str(c->keys[i]);
	add_index(ctx, table, cols, n);
}

static void coldef_indexes(struct pgphase_lint_ctx *ctx, const char *table,
			   const PgQuery__ColumnDef *cd)
{
	for (size_t i = 0; i < cd->n_constraints; i++)
		if (cd->constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			constraint_index(ctx, table, cd->constraints[i]->constraint, cd->colname);
}

void lint_model_indexes(struct pgphase_lint_ctx *ctx, const PgQuery__Node *node)
{
	if (node->node_case == PG_QUERY__NODE__NODE_INDEX_STMT) {
		const PgQuery__IndexStmt *is = node->index_stmt;
		const char *cols[32];
		size_t n = 0;

		/* leading plain columns only: an expression ends the usable prefix */
		for (size_t i = 0; i < is->n_index_params && n < 32; i++) {
			const PgQuery__Node *p = is->index_params[i];

			if (p->node_case != PG_QUERY__NODE__NODE_INDEX_ELEM || !p->index_elem->name ||
			    !p->index_elem->name[0])
				break;
			cols[n++] = p->index_elem->name;
		}
		if (is->relation)
			add_index(ctx, is->relation->relname, cols, n);
	} else if (node->node_case == PG_QUERY__NODE__NODE_CREATE_STMT) {
		const PgQuery__CreateStmt *cs = node->create_stmt;
		const char *table = cs->relation->relname;

		for (size_t i = 0; i < cs->n_table_elts; i++) {
			const PgQuery__Node *e = cs->table_elts[i];

			if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
				coldef_indexes(ctx, table, e->column_def);
			else if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
				constraint_index(ctx, table, e->constraint, NULL);
		}
	} else if (node->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT) {
		const PgQuery__AlterTableStmt *a = node->alter_table_stmt;

		for (size_t i = 0; a->relation && i < a->n_cmds; i++) {
			const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

			if (!c || !c->def)
				continue;
			if (c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF &&
			    c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn)
				coldef_indexes(ctx, a->relation->relname, c->def->column_def);
			else if (c->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
				constraint_index(ctx, a->relation->relname, c->def->constraint, NULL);
		}
	}
}

/* ---- applying statements ---- */

/* The column a CHECK proves NOT NULL: CHECK (col IS NOT NULL), else NULL. */
static const char *not_null_column(const PgQuery__Node *expr)
{
	if (!expr || expr->node_case != PG_QUERY__NODE__NODE_NULL_TEST ||
	    expr->null_test->nulltesttype != PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL)
		return NULL;
	return lint_column_ref(expr->null_test->arg);
}

struct mark_checked {
	struct pgphase_lint_ctx *ctx;
	const char *table;
};

static enum sql_walk_next mark_column(ProtobufCMessage *msg, ProtobufCMessage **slot, void *arg)
{
	struct mark_checked *mc = arg;

	(void)slot;
	if (msg->descriptor == &pg_query__column_ref__descriptor) {
		const PgQuery__ColumnRef *cr = (const PgQuery__ColumnRef *)msg;
		const char *col = cr->n_fields ? lint_str(cr->fields[cr->n_fields - 1]) : NULL;

		if (col)
			put(mc->ctx, 'v', mc->table, col)->validated = true;
	}
	return SQL_WALK_CONTINUE;
}

static void validated_check(struct pgphase_lint_ctx *ctx, const char *table,
			    const PgQuery__Node *expr)
{
	struct mark_checked mc = { ctx, table };
	const char *col = not_null_column(expr);

	if (col)
		put(ctx, 'n', table, col)->validated = true;
	put(ctx, 'V', table, NULL)->validated = true;
	if (expr)
		sql_tree_walk(&expr->base, 0, mark_column, &mc);
}

/*
 * A copy of a node the model keeps: the linter releases each migration's parse tree once
 * it is linted, and later migrations still ask about earlier columns and checks.
 */
static PgQuery__Node *keep_node(struct pgphase_lint_ctx *ctx, const PgQuery__Node *n)
{
	return n ? pgphase_message_copy(ctx->model_arena, &n->base) : NULL;
}

static PgQuery__TypeName *keep_type(struct pgphase_lint_ctx *ctx, const PgQuery__TypeName *t)
{
	return t ? pgphase_message_copy(ctx->model_arena, &t->base) : NULL;
}

static void add_constraint(struct pgphase_lint_ctx *ctx, const char *table,
			   const PgQuery__Constraint *c, bool new_table)
{
	bool valid = new_table || !c->skip_validation;
	struct lint_obj *o;

	if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK && valid)
		validated_check(ctx, table, c->raw_expr);
	if (!c->conname || !c->conname[0])
		return;
	o = put(ctx, 'k', table, c->conname);
	o->validated = valid;
	o->expr = c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK ? keep_node(ctx, c->raw_expr) : NULL;
	put(ctx, 'O', "c", c->conname);
}

static void add_column(struct pgphase_lint_ctx *ctx, const char *table,
		       const PgQuery__ColumnDef *cd, bool new_table)
{
	put(ctx, 'c', table, cd->colname)->type = keep_type(ctx, cd->type_name);
	for (size_t i = 0; i < cd->n_constraints; i++)
		if (cd->constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			add_constraint(ctx, table, cd->constraints[i]->constraint, new_table);
}

static void apply_create(struct pgphase_lint_ctx *ctx, const PgQuery__CreateStmt *cs)
{
	const char *table = cs->relation->relname;
	struct lint_obj *t = put(ctx, 'T', table, NULL);

	if (cs->partspec) {
		PgQuery__Node **items = pgphase_arena_alloc(ctx->model_arena, cs->partspec->n_part_params *
									sizeof(*items));

		for (size_t i = 0; i < cs->partspec->n_part_params; i++)
			items[i] = keep_node(ctx, cs->partspec->part_params[i]);
		t->items = items;
		t->n_items = cs->partspec->n_part_params;
	}
	for (size_t i = 0; i < cs->n_table_elts; i++) {
		const PgQuery__Node *e = cs->table_elts[i];

		if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
			add_column(ctx, table, e->column_def, true);
		else if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			add_constraint(ctx, table, e->constraint, true);
	}
}

static void apply_alter(struct pgphase_lint_ctx *ctx, const PgQuery__AlterTableStmt *a)
{
	const char *table = a->relation ? a->relation->relname : NULL;

	for (size_t i = 0; table && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);
		struct lint_obj *o;

		if (!c)
			continue;
		switch (c->subtype) {
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
			if (c->def && c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
				add_column(ctx, table, c->def->column_def, false);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
			o = get(ctx, 'c', table, c->name);
			if (o && c->def && c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
				o->type = keep_type(ctx, c->def->column_def->type_name);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
			if (c->def && c->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
				add_constraint(ctx, table, c->def->constraint, false);
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
			o = get(ctx, 'k', table, c->name);
			if (o && !o->validated) {
				o->validated = true;
				validated_check(ctx, table, o->expr);
			}
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint:
			o = get(ctx, 'k', table, c->name);
			if (o && not_null_column(o->expr)) {
				struct lint_obj *nn = get(ctx, 'n', table, not_null_column(o->expr));

				if (nn)
					nn->validated = false;
			}
			break;
		default:
			break;
		}
	}
}

static void apply_object(struct pgphase_lint_ctx *ctx, char kind, PgQuery__Node *const *names,
			 size_t n)
{
	put(ctx, 'O', (char[]){ kind, 0 }, lint_last_name(names, n));
}

void lint_model_apply(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__Node *n = st->node;

	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		apply_create(ctx, n->create_stmt);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		if (n->create_table_as_stmt->into && n->create_table_as_stmt->into->rel)
			put(ctx, 'T', n->create_table_as_stmt->into->rel->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		if (n->view_stmt->view)
			put(ctx, 'T', n->view_stmt->view->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
		if (n->create_seq_stmt->sequence)
			put(ctx, 'T', n->create_seq_stmt->sequence->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		if (n->index_stmt->idxname && n->index_stmt->idxname[0])
			put(ctx, 'T', n->index_stmt->idxname, NULL);
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		apply_alter(ctx, n->alter_table_stmt);
		break;
	case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
		apply_object(ctx, 't', n->create_enum_stmt->type_name, n->create_enum_stmt->n_type_name);
		break;
	case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
		apply_object(ctx, 't', n->create_domain_stmt->domainname,
			     n->create_domain_stmt->n_domainname);
		break;
	case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
		if (n->composite_type_stmt->typevar)
			put(ctx, 'O', "t", n->composite_type_stmt->typevar->relname);
		break;
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		apply_object(ctx, 'f', n->create_function_stmt->funcname,
			     n->create_function_stmt->n_funcname);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
		put(ctx, 'O', "x", n->create_trig_stmt->trigname);
		break;
	case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT:
		put(ctx, 'O', "s", n->create_schema_stmt->schemaname);
		break;
	case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT:
		put(ctx, 'O', "e", n->create_extension_stmt->extname);
		break;
	case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT:
		if (!n->alter_enum_stmt->old_val || !n->alter_enum_stmt->old_val[0]) {
			put(ctx, 'e', n->alter_enum_stmt->new_val, NULL);
			ctx->enum_txn = ctx->txn;
		}
		break;
	default:
		break;
	}
}

/* ---- queries ---- */

static bool here(const struct pgphase_lint_ctx *ctx, const struct lint_obj *o)
{
	return o && o->migration == ctx->mig_seq;
}

bool lint_relname_is_new(const struct pgphase_lint_ctx *ctx, const char *relname)
{
	return relname && here(ctx, get(ctx, 'T', relname, NULL));
}

bool lint_table_is_new(const struct pgphase_lint_ctx *ctx, const PgQuery__RangeVar *rv)
{
	return rv && lint_relname_is_new(ctx, rv->relname);
}

bool lint_column_is_new(const struct pgphase_lint_ctx *ctx, const char *table, const char *col)
{
	return lint_relname_is_new(ctx, table) || (col && here(ctx, get(ctx, 'c', table, col)));
}

const PgQuery__TypeName *lint_column_type(const struct pgphase_lint_ctx *ctx, const char *table,
					  const char *col)
{
	const struct lint_obj *o = col ? get(ctx, 'c', table, col) : NULL;

	return o ? o->type : NULL;
}

bool lint_not_null_proven(const struct pgphase_lint_ctx *ctx, const char *table, const char *col)
{
	const struct lint_obj *o = col ? get(ctx, 'n', table, col) : NULL;

	return o && o->validated;
}

bool lint_column_checked(const struct pgphase_lint_ctx *ctx, const char *table, const char *col)
{
	const struct lint_obj *o = col ? get(ctx, 'v', table, col) : get(ctx, 'V', table, NULL);

	return o && o->validated;
}

bool lint_constraint_added_here(const struct pgphase_lint_ctx *ctx, const char *table,
				const char *name)
{
	const struct lint_obj *o = name ? get(ctx, 'k', table, name) : NULL;

	return here(ctx, o) && o->txn == ctx->txn && !o->validated;
}

PgQuery__Node *const *lint_partition_key(const struct pgphase_lint_ctx *ctx, const char *table,
					 size_t *n)
{
	const struct lint_obj *o = get(ctx, 'T', table, NULL);

	*n = o ? o->n_items : 0;
	return o && o->n_items ? o->items : NULL;
}

bool lint_object_is_new(const struct pgphase_lint_ctx *ctx, char kind, const char *name)
{
	if (!name)
		return false;
	if (kind == 'r')
		return lint_relname_is_new(ctx, name);
	return here(ctx, get(ctx, 'O', (char[]){ kind, 0 }, name));
}

bool lint_enum_value_added_here(const struct pgphase_lint_ctx *ctx, const char *value)
{
	const struct lint_obj *o = value ? get(ctx, 'e', value, NULL) : NULL;

	return here(ctx, o) && o->txn == ctx->txn;
}
