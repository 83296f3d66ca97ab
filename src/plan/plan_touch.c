/*
 * What a statement touches, for the ordering rule (src/plan/plan_deps.c): each statement, or
 * each step a strategy made of it, names the objects whose state it reads or changes, as
 * keys of a few kinds — the data of a table, a column, the column set and defaults INSERT
 * relies on, a name in the relation namespace (tables, views, indexes, sequences), a
 * constraint, trigger, rule or policy of a table, a function, a type, any other object.  Two
 * statements that touch one key, one of them as a change, must keep their order.
 *
 * Precision matters more than completeness in one direction only: a missed key lets the
 * planner reorder two statements that depend on each other, an extra key only keeps a
 * statement in its place (run as written).  So unknown statements and sub-commands count as
 * changing the data of their table, and DO / CALL as changing everything.  A constraint
 * added NOT VALID reads no rows (only its name is touched), which is what lets the NOT NULL
 * and FOREIGN KEY strategies add it in expand before an earlier data change runs.
 *
 * Names are compared without schema (as the rest of the planner does): two objects of one
 * name in two schemas can only keep a statement in place, never reorder.  Nothing here
 * reads SQL text; keys are built from libpg_query trees.
 */
#include <string.h>

#include "plan/plan_int.h"
#include "base/util.h"

#define SEP "\x1f" /* between a key's parts: never in an identifier libpg_query returns */
#define TR PLAN_TOUCH_READ
#define TW PLAN_TOUCH_WRITE
#define TC PLAN_TOUCH_CHECK

/*
 * Keys are compared without case: a name that differs only in case is more likely the same
 * object written with and without quotes than a second object, and a false match only keeps
 * a statement in place.
 */
static void key(struct plan_touch_sink *s, enum plan_touch_mode mode, char kind, const char *a,
		const char *b)
{
	char *k;

	if (!a || !a[0])
		return;
	if (s->checking && mode == TR && kind == 'd')
		mode = TC;
	k = b ? arena_printf(s->arena, "%c" SEP "%s" SEP "%s", kind, a, b)
	      : arena_printf(s->arena, "%c" SEP "%s", kind, a);
	s->add(s->arg, k, mode); /* compared without case by the receiver (plan_deps.c) */
}

/* The last name of a qualified-name list (List of String), and the one before it. */
static const char *last_name(const PgQuery__Node *n, const char **prev)
{
	const PgQuery__List *l;

	if (prev)
		*prev = NULL;
	if (!n)
		return NULL;
	if (n->node_case == PG_QUERY__NODE__NODE_STRING)
		return n->string->sval;
	if (n->node_case == PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS)
		return n->object_with_args->n_objname
			       ? sql_str(n->object_with_args->objname[n->object_with_args->n_objname - 1])
			       : NULL;
	if (n->node_case == PG_QUERY__NODE__NODE_TYPE_NAME)
		return n->type_name->n_names ? sql_str(n->type_name->names[n->type_name->n_names - 1])
					     : NULL;
	if (n->node_case != PG_QUERY__NODE__NODE_LIST || n->list->n_items == 0)
		return NULL;
	l = n->list;
	if (prev && l->n_items > 1)
		*prev = sql_str(l->items[l->n_items - 2]);
	return sql_str(l->items[l->n_items - 1]);
}

static const char *list_last(PgQuery__Node *const *v, size_t n)
{
	return n ? sql_str(v[n - 1]) : NULL;
}

/* ---- every relation named anywhere: read by name, and (for reads of data) its rows ---- */

struct walk_ctx {
	struct plan_touch_sink *s;
	const PgQuery__RangeVar *target; /* a data change's own table: not read */
	bool data;                       /* the statement reads the rows it names */
	const char *columns_of;          /* column references count as columns of this table */
};

static enum sql_walk_next visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	struct walk_ctx *w = arg;

	(void)slot;
	if (m->descriptor == &pg_query__range_var__descriptor) {
		const PgQuery__RangeVar *rv = (const PgQuery__RangeVar *)m;

		key(w->s, TR, 'r', rv->relname, NULL);
		if (w->data && rv != w->target)
			key(w->s, TR, 'd', rv->relname, NULL);
	} else if (m->descriptor == &pg_query__column_ref__descriptor && w->columns_of) {
		const PgQuery__ColumnRef *c = (const PgQuery__ColumnRef *)m;

		key(w->s, TR, 'c', w->columns_of, list_last(c->fields, c->n_fields));
	}
	return SQL_WALK_CONTINUE;
}

static void walk(struct plan_touch_sink *s, const ProtobufCMessage *m, bool data,
		 const PgQuery__RangeVar *target, const char *columns_of)
{
	struct walk_ctx w = { s, target, data, columns_of };

	if (m)
		sql_tree_walk(m, 0, visit, &w);
}

/* ---- ALTER TABLE ---- */

static bool reads_rows(const PgQuery__Constraint *c)
{
	if (c->skip_validation)
		return false; /* NOT VALID: existing rows are not read */
	switch (c->contype) {
	case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
	case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
	case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
	case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
	case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION:
	case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
		return true;
	default:
		return false;
	}
}

static void constraint(struct plan_touch_sink *s, const char *t, const PgQuery__Constraint *c)
{
	bool indexed = c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ||
		       c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE ||
		       c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION;

	key(s, TW, 'k', t, c->conname);
	if (indexed)
		key(s, TW, 'r', c->conname, NULL);
	if (c->indexname && c->indexname[0])
		key(s, TW, 'r', c->indexname, NULL); /* USING INDEX renames it */
	if (reads_rows(c))
		key(s, TC, 'd', t, NULL);
	if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN && c->pktable && !c->skip_validation)
		key(s, TC, 'd', c->pktable->relname, NULL);
	/* a foreign key binds to a unique index of the referenced table as it is when the key
	   is added (NOT VALID too): a drop of one must not move behind it */
	if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN && c->pktable)
		key(s, TR, 'q', c->pktable->relname, NULL);
	/* the columns it is on: a later-running change of one would drop or break it */
	for (size_t i = 0; i < c->n_keys; i++)
		key(s, TR, 'c', t, sql_str(c->keys[i]));
	for (size_t i = 0; i < c->n_fk_attrs; i++)
		key(s, TR, 'c', t, sql_str(c->fk_attrs[i]));
	walk(s, c->raw_expr ? &c->raw_expr->base : NULL, false, NULL, t);
}

static void alter_cmd(struct plan_touch_sink *s, const char *t, const PgQuery__AlterTableCmd *c)
{
	const PgQuery__Node *def = c->def;

	switch (c->subtype) {
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumnRecurse:
		if (def && def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
			const PgQuery__ColumnDef *cd = def->column_def;
			bool dflt = cd->raw_default != NULL;

			key(s, TW, 'c', t, cd->colname);
			for (size_t i = 0; i < cd->n_constraints; i++)
				if (cd->constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
				    cd->constraints[i]->constraint->contype ==
					    PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT)
					dflt = true;
			/* NOT NULL with a default holds whatever the rows are; without one it needs
			   an empty table, and CHECK, UNIQUE, ... read the rows */
			for (size_t i = 0; i < cd->n_constraints; i++)
				if (cd->constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
				    reads_rows(cd->constraints[i]->constraint) &&
				    !(dflt && cd->constraints[i]->constraint->contype ==
						      PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL))
					key(s, TC, 'd', t, NULL);
		}
		key(s, TR, 's', t, NULL);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumnRecurse:
		key(s, TW, 'c', t, c->name);
		key(s, TR, 's', t, NULL);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
		key(s, TW, 'c', t, c->name); /* its values too (USING): whoever reads the column */
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddIdentity:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetIdentity:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropIdentity:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropExpression:
		key(s, TR, 'c', t, c->name);
		key(s, TR, 's', t, NULL); /* what an INSERT leaving the column out gets */
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull:
		key(s, TC, 'c', t, c->name);
		key(s, TC, 'd', t, NULL);
		key(s, TR, 's', t, NULL);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
		key(s, TR, 'c', t, c->name);
		key(s, TR, 's', t, NULL);
		key(s, TW, 'd', t, NULL); /* a later change may write NULLs */
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraintRecurse:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AddIndexConstraint:
		if (def && def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
			constraint(s, t, def->constraint);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraintRecurse:
		key(s, TW, 'k', t, c->name);
		key(s, TW, 'r', c->name, NULL); /* a UNIQUE / PRIMARY KEY's index */
		key(s, TW, 'q', t, NULL);
		if (!s->generated)
			key(s, TW, 'd', t, NULL); /* a later change may break it */
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraintRecurse:
		key(s, TR, 'k', t, c->name);
		key(s, TC, 'd', t, NULL);
		break;
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStatistics:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetOptions:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ResetOptions:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStorage:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetCompression:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ChangeOwner:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ClusterOn:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropCluster:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetRelOptions:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ResetRelOptions:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ReplaceRelOptions:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ReplicaIdentity:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetTableSpace:
		break; /* nothing a data change or another statement sees */
	default:
		key(s, TW, 'd', t, NULL); /* triggers, rules, RLS, partitions, ...: coarse */
		break;
	}
}

/* ---- DROP and RENAME ---- */

static void drop_object(struct plan_touch_sink *s, PgQuery__ObjectType type, const PgQuery__Node *o)
{
	const char *prev, *name = last_name(o, &prev);

	switch (type) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
		key(s, TW, 'd', name, NULL);
		key(s, TR, 's', name, NULL);
		/* fall through */
	case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
		key(s, TW, 'r', name, NULL);
		if (type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX && s->unique_index_table)
			key(s, TW, 'q', s->unique_index_table(s->arg, prev, name), NULL);
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER:
	case PG_QUERY__OBJECT_TYPE__OBJECT_RULE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_POLICY:
		key(s, TW, type == PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER ? 'g'
			     : type == PG_QUERY__OBJECT_TYPE__OBJECT_RULE ? 'u' : 'p', prev, name);
		if (!s->generated) /* later changes of the table behave otherwise */
			key(s, TW, 'd', prev, NULL);
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION:
	case PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_ROUTINE:
		key(s, TW, 'f', name, NULL);
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_TYPE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN:
		key(s, TW, 'y', name, NULL);
		break;
	default:
		key(s, TW, 'o', arena_printf(s->arena, "%d", (int)type), name);
		break;
	}
}

static void rename_touch(struct plan_touch_sink *s, const PgQuery__RenameStmt *r)
{
	const char *t = r->relation ? r->relation->relname : NULL;

	switch (r->rename_type) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
	case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
		key(s, TW, 'r', t, NULL);
		key(s, TW, 'r', r->newname, NULL);
		key(s, TW, 'd', t, NULL);
		key(s, TR, 's', t, NULL);
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN:
		key(s, TW, 'c', t, r->subname);
		key(s, TW, 'c', t, r->newname);
		key(s, TR, 's', t, NULL);
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER:
	case PG_QUERY__OBJECT_TYPE__OBJECT_RULE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_POLICY: {
		char k = r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER ? 'g'
			 : r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_RULE ? 'u' : 'p';

		key(s, TW, k, t, r->subname);
		key(s, TW, k, t, r->newname);
		break;
	}
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT:
		key(s, TW, 'k', t, r->subname);
		key(s, TW, 'k', t, r->newname);
		key(s, TW, 'r', r->subname, NULL);
		key(s, TW, 'r', r->newname, NULL);
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION:
	case PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE:
		key(s, TW, 'f', last_name(r->object, NULL), NULL);
		key(s, TW, 'f', r->newname, NULL);
		break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_TYPE:
	case PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN:
		key(s, TW, 'y', last_name(r->object, NULL), NULL);
		key(s, TW, 'y', r->newname, NULL);
		break;
	default:
		key(s, TW, 'o', arena_printf(s->arena, "%d", (int)r->rename_type),
		    last_name(r->object, NULL));
		key(s, TW, 'o', arena_printf(s->arena, "%d", (int)r->rename_type), r->newname);
		break;
	}
}

/* ---- data changes ---- */

static void data_change(struct plan_touch_sink *s, const PgQuery__Node *n)
{
	const PgQuery__RangeVar *t = NULL;

	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
		t = n->update_stmt->relation;
		for (size_t i = 0; i < n->update_stmt->n_target_list; i++)
			if (n->update_stmt->target_list[i]->node_case == PG_QUERY__NODE__NODE_RES_TARGET)
				key(s, TR, 'c', t->relname,
				    n->update_stmt->target_list[i]->res_target->name);
		break;
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		t = n->delete_stmt->relation;
		break;
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		t = n->insert_stmt->relation;
		key(s, TW, 's', t->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_MERGE_STMT:
		t = n->merge_stmt->relation;
		key(s, TW, 's', t->relname, NULL);
		break;
	default:
		return;
	}
	key(s, TW, 'd', t->relname, NULL);
	walk(s, &n->base, true, t, t->relname);
}

void plan_touches(const PgQuery__Node *n, struct plan_touch_sink *s)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_UPDATE_STMT:
	case PG_QUERY__NODE__NODE_DELETE_STMT:
	case PG_QUERY__NODE__NODE_INSERT_STMT:
	case PG_QUERY__NODE__NODE_MERGE_STMT:
		data_change(s, n);
		return;
	case PG_QUERY__NODE__NODE_SELECT_STMT:
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		walk(s, &n->base, true, NULL, NULL);
		if (n->node_case == PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT &&
		    n->create_table_as_stmt->into && n->create_table_as_stmt->into->rel)
			key(s, TW, 'r', n->create_table_as_stmt->into->rel->relname, NULL);
		return;
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
		for (size_t i = 0; i < n->truncate_stmt->n_relations; i++)
			if (n->truncate_stmt->relations[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR)
				key(s, TW, 'd', n->truncate_stmt->relations[i]->range_var->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_COPY_STMT:
		if (n->copy_stmt->relation) {
			key(s, n->copy_stmt->is_from ? TW : TR, 'd', n->copy_stmt->relation->relname,
			    NULL);
			if (n->copy_stmt->is_from)
				key(s, TW, 's', n->copy_stmt->relation->relname, NULL);
		}
		break;
	case PG_QUERY__NODE__NODE_DO_STMT:
	case PG_QUERY__NODE__NODE_CALL_STMT:
		s->add(s->arg, "*", TW); /* anything at all */
		return;
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		key(s, TW, 'r', n->create_stmt->relation->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_VIEW_STMT:
		key(s, TW, 'r', n->view_stmt->view->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
		key(s, TW, 'r', n->create_seq_stmt->sequence->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_ALTER_SEQ_STMT:
		key(s, TW, 'r', n->alter_seq_stmt->sequence->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT: {
		const PgQuery__IndexStmt *ix = n->index_stmt;

		key(s, TW, 'r', ix->idxname, NULL);
		if (ix->unique || ix->primary)
			key(s, TC, 'd', ix->relation->relname, NULL);
		for (size_t i = 0; i < ix->n_index_params; i++)
			if (ix->index_params[i]->node_case == PG_QUERY__NODE__NODE_INDEX_ELEM)
				key(s, TR, 'c', ix->relation->relname,
				    ix->index_params[i]->index_elem->name);
		break;
	}
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT: {
		const PgQuery__AlterTableStmt *at = n->alter_table_stmt;

		for (size_t i = 0; i < at->n_cmds; i++)
			if (at->cmds[i]->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
				alter_cmd(s, at->relation->relname, at->cmds[i]->alter_table_cmd);
		break;
	}
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		rename_touch(s, n->rename_stmt);
		break;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		for (size_t i = 0; i < n->drop_stmt->n_objects; i++)
			drop_object(s, n->drop_stmt->remove_type, n->drop_stmt->objects[i]);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT: {
		const PgQuery__CreateTrigStmt *tg = n->create_trig_stmt;
		const char *t = tg->relation->relname;

		key(s, TW, 'g', t, tg->trigname);
		key(s, TR, 'f', list_last(tg->funcname, tg->n_funcname), NULL);
		for (size_t i = 0; i < tg->n_columns; i++)
			key(s, TR, 'c', t, sql_str(tg->columns[i]));
		if (!s->generated) /* a sync trigger of a strategy copies values; a user's changes rows */
			key(s, TW, 'd', t, NULL);
		walk(s, tg->when_clause ? &tg->when_clause->base : NULL, false, NULL, t);
		break;
	}
	case PG_QUERY__NODE__NODE_RULE_STMT:
		key(s, TW, 'u', n->rule_stmt->relation->relname, n->rule_stmt->rulename);
		key(s, TW, 'd', n->rule_stmt->relation->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT:
		key(s, TW, 'p', n->create_policy_stmt->table->relname,
		    n->create_policy_stmt->policy_name);
		key(s, TW, 'd', n->create_policy_stmt->table->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_ALTER_POLICY_STMT:
		key(s, TW, 'p', n->alter_policy_stmt->table->relname,
		    n->alter_policy_stmt->policy_name);
		key(s, TW, 'd', n->alter_policy_stmt->table->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		key(s, TW, 'f', list_last(n->create_function_stmt->funcname,
					    n->create_function_stmt->n_funcname), NULL);
		return; /* its body is text: nothing to walk */
	case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
		key(s, TW, 'y', n->composite_type_stmt->typevar->relname, NULL);
		key(s, TW, 'r', n->composite_type_stmt->typevar->relname, NULL);
		break;
	case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
		key(s, TW, 'y', list_last(n->create_enum_stmt->type_name,
					    n->create_enum_stmt->n_type_name), NULL);
		break;
	case PG_QUERY__NODE__NODE_ALTER_ENUM_STMT:
		key(s, TW, 'y', list_last(n->alter_enum_stmt->type_name,
					    n->alter_enum_stmt->n_type_name), NULL);
		break;
	case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
		key(s, TW, 'y', list_last(n->create_domain_stmt->domainname,
					    n->create_domain_stmt->n_domainname), NULL);
		break;
	default:
		break;
	}
	walk(s, &n->base, false, NULL, NULL);
}

const char *plan_touch_display(struct pgphase_arena *a, const char *k)
{
	const char *p = k[0] && k[1] ? k + 2 : "", *sep = strstr(p, SEP);
	int n = sep ? (int)(sep - p) : (int)strlen(p);
	const char *b = sep ? sep + 1 : "";

	switch (k[0]) {
	case 'd':
		return arena_printf(a, "the rows of \"%s\"", p);
	case 's':
		return arena_printf(a, "the columns and defaults of \"%s\"", p);
	case 'c':
		return arena_printf(a, "column \"%s\" of \"%.*s\"", b, n, p);
	case 'r':
		return arena_printf(a, "the name \"%s\"", p);
	case 'k':
		return arena_printf(a, "constraint \"%s\" of \"%.*s\"", b, n, p);
	case 'g':
		return arena_printf(a, "trigger \"%s\" of \"%.*s\"", b, n, p);
	case 'u':
		return arena_printf(a, "rule \"%s\" of \"%.*s\"", b, n, p);
	case 'p':
		return arena_printf(a, "policy \"%s\" of \"%.*s\"", b, n, p);
	case 'q':
		return arena_printf(a, "the unique keys of \"%s\" (a foreign key binds to one)", p);
	case 'f':
		return arena_printf(a, "function \"%s\"", p);
	case 'y':
		return arena_printf(a, "type \"%s\"", p);
	case '*':
		return "anything (DO or CALL)";
	default:
		return arena_printf(a, "object \"%s\"", b);
	}
}
