/*
 * Reading the libpg_query parse tree for the rules: names, types, locations, and token
 * positions for the parts of a statement the tree has no location for (ALTER TABLE
 * sub-commands, over-long identifiers).  The walk, the volatility table and the sub-command
 * positions are the SQL-tree toolkit's (src/sql/tree.h); this file adapts them to the
 * statements rules see.  Tokens come from libpg_query's scanner; nothing here matches SQL
 * text with patterns.
 */
#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "lint.h"
#include "base/util.h"

const char *lint_str(const PgQuery__Node *n)
{
	return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string->sval : NULL;
}

const char *lint_last_name(PgQuery__Node *const *names, size_t n)
{
	const char *s = n ? lint_str(names[n - 1]) : NULL;

	return s ? s : "";
}

const char *lint_names(PgQuery__Node *const *names, size_t n, char buf[LINT_NAME_MAX])
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *s = lint_str(names[i]);

		if (!s)
			continue;
		len += (size_t)snprintf(buf + len, LINT_NAME_MAX - len, "%s%s", len ? "." : "", s);
		if (len >= LINT_NAME_MAX)
			break;
	}
	return buf;
}

const char *lint_object_name(const PgQuery__Node *obj, char buf[LINT_NAME_MAX])
{
	buf[0] = '\0';
	if (!obj)
		return buf;
	switch (obj->node_case) {
	case PG_QUERY__NODE__NODE_STRING:
		snprintf(buf, LINT_NAME_MAX, "%s", obj->string->sval);
		break;
	case PG_QUERY__NODE__NODE_LIST:
		lint_names(obj->list->items, obj->list->n_items, buf);
		break;
	case PG_QUERY__NODE__NODE_TYPE_NAME:
		lint_names(obj->type_name->names, obj->type_name->n_names, buf);
		break;
	case PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS:
		lint_names(obj->object_with_args->objname, obj->object_with_args->n_objname, buf);
		break;
	default:
		break;
	}
	return buf;
}

const char *lint_rv_name(const PgQuery__RangeVar *rv, char buf[LINT_NAME_MAX])
{
	if (!rv)
		snprintf(buf, LINT_NAME_MAX, "?");
	else if (rv->schemaname && rv->schemaname[0])
		snprintf(buf, LINT_NAME_MAX, "%s.%s", rv->schemaname, rv->relname);
	else
		snprintf(buf, LINT_NAME_MAX, "%s", rv->relname);
	return buf;
}

const char *lint_type_base(const PgQuery__TypeName *tn)
{
	return tn ? lint_last_name(tn->names, tn->n_names) : "";
}

int lint_typmod(const PgQuery__TypeName *tn, size_t i)
{
	const PgQuery__Node *m;

	if (!tn || i >= tn->n_typmods)
		return -1;
	m = tn->typmods[i];
	if (m->node_case != PG_QUERY__NODE__NODE_A_CONST || m->a_const->val_case !=
							       PG_QUERY__A__CONST__VAL_IVAL)
		return -1;
	return m->a_const->ival ? m->a_const->ival->ival : 0;
}

/* The SQL spelling of internal type names, for messages. */
static const char *type_display(const char *base)
{
	static const char *const names[][2] = {
		{ "int2", "smallint" }, { "int4", "integer" }, { "int8", "bigint" },
		{ "bpchar", "char" },	{ "float4", "real" },  { "float8", "double precision" },
		{ "bool", "boolean" },	{ "varbit", "bit varying" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(base, names[i][0]) == 0)
			return names[i][1];
	return base;
}

const char *lint_type_sql(const PgQuery__TypeName *tn, char buf[LINT_NAME_MAX])
{
	const char *base = type_display(lint_type_base(tn));
	int a = lint_typmod(tn, 0), b = lint_typmod(tn, 1);

	if (a >= 0 && b >= 0)
		snprintf(buf, LINT_NAME_MAX, "%s(%d,%d)%s", base, a, b, tn->n_array_bounds ? "[]" : "");
	else if (a >= 0)
		snprintf(buf, LINT_NAME_MAX, "%s(%d)%s", base, a, tn->n_array_bounds ? "[]" : "");
	else
		snprintf(buf, LINT_NAME_MAX, "%s%s", base, tn && tn->n_array_bounds ? "[]" : "");
	return buf;
}

int lint_location(const PgQuery__Node *n)
{
	const ProtobufCMessage *msg = n ? sql_node_message(n) : NULL;
	const ProtobufCFieldDescriptor *f;

	if (!msg)
		return -1;
	f = protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "location");
	if (!f || f->type != PROTOBUF_C_TYPE_INT32)
		return -1;
	return *(const int32_t *)((const char *)msg + f->offset);
}

static enum sql_walk_next min_location(ProtobufCMessage *msg, ProtobufCMessage **slot, void *arg)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "location");
	int *min = arg, loc;

	(void)slot;
	if (f && f->type == PROTOBUF_C_TYPE_INT32) {
		loc = *(const int32_t *)((const char *)msg + f->offset);
		if (loc >= 0 && (*min < 0 || loc < *min))
			*min = loc;
	}
	return SQL_WALK_CONTINUE;
}

int lint_first_location(const PgQuery__Node *n)
{
	int min = -1;

	if (n)
		sql_tree_walk(&n->base, 0, min_location, &min);
	return min;
}

const PgQuery__DefElem *lint_defelem(PgQuery__Node *const *opts, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (opts[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
		    strcmp(opts[i]->def_elem->defname, name) == 0)
			return opts[i]->def_elem;
	return NULL;
}

const PgQuery__Constraint *lint_column_constraint(const PgQuery__ColumnDef *cd, int contype)
{
	for (size_t i = 0; cd && i < cd->n_constraints; i++)
		if (cd->constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
		    (int)cd->constraints[i]->constraint->contype == contype)
			return cd->constraints[i]->constraint;
	return NULL;
}

const char *lint_column_ref(const PgQuery__Node *n)
{
	if (!n || n->node_case != PG_QUERY__NODE__NODE_COLUMN_REF || !n->column_ref->n_fields)
		return NULL;
	return lint_str(n->column_ref->fields[n->column_ref->n_fields - 1]);
}

static enum sql_walk_next find_column(ProtobufCMessage *msg, ProtobufCMessage **slot, void *arg)
{
	const char *col = arg;

	(void)slot;
	if (msg->descriptor == &pg_query__column_ref__descriptor) {
		const PgQuery__ColumnRef *cr = (const PgQuery__ColumnRef *)msg;
		const char *name = cr->n_fields ? lint_str(cr->fields[cr->n_fields - 1]) : NULL;

		if (name && strcmp(name, col) == 0)
			return SQL_WALK_STOP;
	}
	return SQL_WALK_CONTINUE;
}

bool lint_expr_mentions(const PgQuery__Node *expr, const char *col)
{
	return expr && !sql_tree_walk(&expr->base, 0, find_column, (void *)col);
}

int lint_cmd_location(const struct pgphase_lint_stmt *st, size_t i)
{
	return sql_alter_cmd_location(lint_alter_table(st), st->sec->text + st->base,
				      st->end - st->base, i);
}

/* Byte length of an identifier token once quotes are removed ("" counts once). */
static size_t ident_length(const char *s, size_t len)
{
	size_t n = 0;

	if (len < 2 || s[0] != '"')
		return len;
	for (size_t i = 1; i + 1 < len; i++) {
		if (s[i] == '"' && s[i + 1] == '"')
			i++;
		n++;
	}
	return n;
}

/*
 * Can the text hold an identifier of LINT_NAMEDATALEN bytes or more?  Only if it has a quoted
 * identifier or a run that long of bytes an unquoted identifier may contain.  A conservative
 * pre-check: when it says no, the scanner would find nothing, so it is not run.
 */
static bool may_hold_long_identifier(const char *text, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '"')
			return true;
		if (isalnum(c) || c == '_' || c == '$' || c >= 0x80) {
			if (++run >= LINT_NAMEDATALEN)
				return true;
		} else {
			run = 0;
		}
	}
	return false;
}

size_t lint_long_identifiers(const struct pgphase_lint_stmt *st,
			     void (*fn)(const struct pgphase_lint_stmt *st, size_t off, size_t len,
					void *arg),
			     void *arg)
{
	char *text;
	PgQuery__ScanResult *t;
	size_t found = 0;

	if (!may_hold_long_identifier(st->sec->text + st->offset, st->end - st->offset))
		return 0;
	text = xstrndup(st->sec->text + st->offset, st->end - st->offset);
	t = sql_scan(text);

	for (size_t k = 0; t && k < t->n_tokens; k++) {
		const PgQuery__ScanToken *tok = t->tokens[k];
		size_t len = (size_t)(tok->end - tok->start);

		if (tok->token != PG_QUERY__TOKEN__IDENT ||
		    ident_length(text + tok->start, len) < LINT_NAMEDATALEN)
			continue;
		found++;
		fn(st, st->offset + (size_t)tok->start, len, arg);
	}
	if (t)
		pg_query__scan_result__free_unpacked(t, NULL);
	free(text);
	return found;
}

const PgQuery__AlterTableStmt *lint_alter_table(const struct pgphase_lint_stmt *st)
{
	if (!st->node || st->node->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT)
		return NULL;
	return st->node->alter_table_stmt;
}

const PgQuery__AlterTableCmd *lint_cmd(const PgQuery__AlterTableStmt *a, size_t i)
{
	if (!a || i >= a->n_cmds || a->cmds[i]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
		return NULL;
	return a->cmds[i]->alter_table_cmd;
}

void lint_for_each_coldef(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			  lint_coldef_fn fn, void *arg)
{
	const PgQuery__Node *n = st->node;

	if (n->node_case == PG_QUERY__NODE__NODE_CREATE_STMT) {
		const PgQuery__CreateStmt *cs = n->create_stmt;

		for (size_t i = 0; i < cs->n_table_elts; i++)
			if (cs->table_elts[i]->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
				fn(ctx, st, cs->relation, cs->table_elts[i]->column_def,
				   cs->table_elts[i]->column_def->colname, arg);
	} else if (n->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT) {
		const PgQuery__AlterTableStmt *a = n->alter_table_stmt;

		if (a->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
			return;
		for (size_t i = 0; i < a->n_cmds; i++) {
			const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

			if (!c || !c->def || c->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
				continue;
			if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn)
				fn(ctx, st, a->relation, c->def->column_def, c->def->column_def->colname, arg);
			else if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType)
				fn(ctx, st, a->relation, c->def->column_def, c->name, arg);
		}
	}
}
