/*
 * The undo of more creations run as written (plan_write.c asks here for what it does not
 * cover itself): CREATE FUNCTION / PROCEDURE, TYPE (enum, composite, range), DOMAIN, SCHEMA,
 * MATERIALIZED VIEW and CREATE TABLE AS, TRIGGER, POLICY, EXTENSION.  Without OR REPLACE or
 * IF NOT EXISTS such a statement succeeds only when the object did not exist, so dropping it
 * (IF EXISTS, RESTRICT: never what others made depend on it) is its exact inverse.  Names
 * are quoted; a function's signature (its input argument types, and a procedure's OUT ones)
 * is deparsed from the statement's own type names (a procedure with OUT arguments gets
 * none).
 *
 * Also here: whether a data change of the backfill changes what existed before (its old
 * values are then kept for rollback): not when an expand step of the migration adds its table
 * or every column it sets (the fill of a new column; the undo of that step drops it).
 *
 * A rename run as written (ALTER ... RENAME [COLUMN | CONSTRAINT] ... TO) is undone by
 * renaming back.
 *
 * Not here: OR REPLACE / IF NOT EXISTS and statements that change an existing object
 * (COMMENT, GRANT, ALTER ... SET): their inverse depends on what was there, and none is given
 * (rollback refuses them once run).  A CREATE SCHEMA with elements, a base type, an
 * aggregate, an operator, ... get none either.
 */
#include <string.h>

#include "plan/plan_int.h"
#include "base/util.h"

/* "a"."b" from a list of String nodes, or NULL when one is not a String. */
static char *names(struct plan_ctx *ctx, PgQuery__Node *const *l, size_t n)
{
	char *out = NULL;

	for (size_t i = 0; i < n; i++) {
		if (l[i]->node_case != PG_QUERY__NODE__NODE_STRING || !l[i]->string->sval)
			return NULL;
		const char *one = sql_ident(ctx, l[i]->string->sval);

		out = out ? arena_printf(ctx->arena, "%s.%s", out, one) : (char *)one;
	}
	return out;
}

static char *drop_named(struct plan_ctx *ctx, const char *what, PgQuery__Node *const *l, size_t n,
			struct pgphase_error *err)
{
	char *name = names(ctx, l, n);

	return name ? sql_renderf(ctx, err, "DROP %s IF EXISTS %s", what, name) : NULL;
}

/* Does a parameter of this mode belong to the signature DROP names? */
static bool in_signature(PgQuery__FunctionParameterMode mode, bool procedure)
{
	switch (mode) {
	case PG_QUERY__FUNCTION_PARAMETER_MODE__FUNC_PARAM_OUT:
		return procedure; /* part of a procedure's identity, ignored for a function */
	case PG_QUERY__FUNCTION_PARAMETER_MODE__FUNC_PARAM_TABLE:
		return false;
	default:
		return true;
	}
}

/* DROP FUNCTION / PROCEDURE IF EXISTS name(types), built as a tree and deparsed. */
static char *drop_function(struct plan_ctx *ctx, const PgQuery__CreateFunctionStmt *f,
			   struct pgphase_error *err)
{
	PgQuery__DropStmt drop = PG_QUERY__DROP_STMT__INIT;
	PgQuery__ObjectWithArgs owa = PG_QUERY__OBJECT_WITH_ARGS__INIT;
	PgQuery__Node obj = PG_QUERY__NODE__INIT, top = PG_QUERY__NODE__INIT, *objs[1] = { &obj };
	PgQuery__Node **args = arena_alloc(ctx->arena, (f->n_parameters + 1) * sizeof(*args));
	size_t n = 0;

	if (!names(ctx, f->funcname, f->n_funcname))
		return NULL;
	for (size_t i = 0; i < f->n_parameters; i++) {
		const PgQuery__Node *pn = f->parameters[i];
		const PgQuery__FunctionParameter *p =
			pn->node_case == PG_QUERY__NODE__NODE_FUNCTION_PARAMETER
			? pn->function_parameter : NULL;
		PgQuery__Node *tn;

		if (!p || !p->arg_type)
			return NULL;
		if (!in_signature(p->mode, f->is_procedure))
			continue;
		if (p->mode == PG_QUERY__FUNCTION_PARAMETER_MODE__FUNC_PARAM_OUT)
			return NULL; /* a procedure's OUT: the type list alone does not say it */
		tn = arena_alloc(ctx->arena, sizeof(*tn));
		pg_query__node__init(tn);
		tn->node_case = PG_QUERY__NODE__NODE_TYPE_NAME;
		tn->type_name = p->arg_type;
		args[n++] = tn;
	}
	owa.n_objname = f->n_funcname;
	owa.objname = f->funcname;
	owa.n_objargs = n;
	owa.objargs = args;
	obj.node_case = PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS;
	obj.object_with_args = &owa;
	drop.n_objects = 1;
	drop.objects = objs;
	drop.remove_type = f->is_procedure ? PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE
					   : PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION;
	drop.behavior = PG_QUERY__DROP_BEHAVIOR__DROP_RESTRICT;
	drop.missing_ok = true;
	top.node_case = PG_QUERY__NODE__NODE_DROP_STMT;
	top.drop_stmt = &drop;
	return sql_deparse(ctx, &top, err);
}

static char *drop_on(struct plan_ctx *ctx, const char *what, const char *name,
		     const PgQuery__RangeVar *rv, struct pgphase_error *err)
{
	if (!name || !name[0] || !rv)
		return NULL;
	return sql_renderf(ctx, err, "DROP %s IF EXISTS %s ON %s", what, sql_ident(ctx, name),
			   sql_rel(ctx, rv));
}

/* A string literal of s (standard_conforming_strings: only quotes doubled); the deparser
 * that sql_renderf runs writes it back in its own form. */
static char *literal(struct plan_ctx *ctx, const char *s)
{
	struct sbuf b = SBUF_INIT;
	char *out;

	sbuf_add(&b, "'", 1);
	for (; *s; s++) {
		if (*s == '\'')
			sbuf_add(&b, "'", 1);
		sbuf_add(&b, s, 1);
	}
	sbuf_add(&b, "'", 1);
	out = arena_printf(ctx->arena, "%s", b.buf);
	sbuf_release(&b);
	return out;
}

/*
 * A rename run as written is undone by renaming back.  Relations and indexes: ALTER ... IF
 * EXISTS (a rollback run again after its undo committed finds nothing to do).  Columns and
 * constraints have no IF EXISTS form: the rename back runs only when the new name is there.
 */
static char *undo_rename(struct plan_ctx *ctx, const PgQuery__RenameStmt *rs,
			 struct pgphase_error *err)
{
	PgQuery__RangeVar moved;
	const char *kind = NULL, *rel, *check, *body;

	if (!rs->relation || !rs->newname || !rs->newname[0])
		return NULL;
	switch (rs->rename_type) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE: kind = "TABLE"; break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW: kind = "VIEW"; break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW: kind = "MATERIALIZED VIEW"; break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE: kind = "SEQUENCE"; break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX: kind = "INDEX"; break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE: kind = "FOREIGN TABLE"; break;
	case PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN:
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT:
		break;
	default:
		return NULL;
	}
	if (kind) {
		moved = *rs->relation;
		moved.relname = rs->newname;
		return sql_renderf(ctx, err, "ALTER %s IF EXISTS %s RENAME TO %s", kind,
				   sql_rel(ctx, &moved), sql_ident(ctx, rs->relation->relname));
	}
	if (!rs->subname || !rs->subname[0])
		return NULL;
	rel = sql_rel(ctx, rs->relation);
	if (rs->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN)
		check = arena_printf(ctx->arena, "SELECT FROM pg_attribute WHERE attrelid = "
				     "to_regclass(%s) AND attname = %s AND NOT attisdropped",
				     literal(ctx, rel), literal(ctx, rs->newname));
	else
		check = arena_printf(ctx->arena, "SELECT FROM pg_constraint WHERE conrelid = "
				     "to_regclass(%s) AND conname = %s", literal(ctx, rel),
				     literal(ctx, rs->newname));
	body = arena_printf(ctx->arena, "BEGIN IF EXISTS (%s) THEN ALTER TABLE %s RENAME %s %s TO "
			    "%s; END IF; END", check, rel,
			    rs->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN ? "COLUMN"
										    : "CONSTRAINT",
			    sql_ident(ctx, rs->newname), sql_ident(ctx, rs->subname));
	return sql_renderf(ctx, err, "DO %s", literal(ctx, body));
}

char *plan_undo_create(struct plan_ctx *ctx, const PgQuery__Node *n, struct pgphase_error *err)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
		if (n->create_function_stmt->replace)
			return NULL;
		return drop_function(ctx, n->create_function_stmt, err);
	case PG_QUERY__NODE__NODE_CREATE_ENUM_STMT:
		return drop_named(ctx, "TYPE", n->create_enum_stmt->type_name,
				  n->create_enum_stmt->n_type_name, err);
	case PG_QUERY__NODE__NODE_CREATE_RANGE_STMT:
		return drop_named(ctx, "TYPE", n->create_range_stmt->type_name,
				  n->create_range_stmt->n_type_name, err);
	case PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT:
		if (!n->composite_type_stmt->typevar)
			return NULL;
		return sql_renderf(ctx, err, "DROP TYPE IF EXISTS %s",
				   sql_rel(ctx, n->composite_type_stmt->typevar));
	case PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT:
		return drop_named(ctx, "DOMAIN", n->create_domain_stmt->domainname,
				  n->create_domain_stmt->n_domainname, err);
	case PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT: {
		const PgQuery__CreateSchemaStmt *cs = n->create_schema_stmt;

		if (cs->if_not_exists || cs->n_schema_elts > 0 || !cs->schemaname ||
		    !cs->schemaname[0])
			return NULL;
		return sql_renderf(ctx, err, "DROP SCHEMA IF EXISTS %s",
				   sql_ident(ctx, cs->schemaname));
	}
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT: {
		const PgQuery__CreateTableAsStmt *ct = n->create_table_as_stmt;

		if (ct->if_not_exists || !ct->into || !ct->into->rel)
			return NULL;
		if (ct->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW)
			return sql_renderf(ctx, err, "DROP MATERIALIZED VIEW IF EXISTS %s",
					   sql_rel(ctx, ct->into->rel));
		if (ct->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE && !ct->is_select_into)
			return sql_renderf(ctx, err, "DROP TABLE IF EXISTS %s",
					   sql_rel(ctx, ct->into->rel));
		return NULL;
	}
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
		if (n->create_trig_stmt->replace)
			return NULL;
		return drop_on(ctx, "TRIGGER", n->create_trig_stmt->trigname,
			       n->create_trig_stmt->relation, err);
	case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT:
		return drop_on(ctx, "POLICY", n->create_policy_stmt->policy_name,
			       n->create_policy_stmt->table, err);
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		return undo_rename(ctx, n->rename_stmt, err);
	case PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT:
		if (n->create_extension_stmt->if_not_exists || !n->create_extension_stmt->extname)
			return NULL;
		return sql_renderf(ctx, err, "DROP EXTENSION IF EXISTS %s",
				   sql_ident(ctx, n->create_extension_stmt->extname));
	default:
		return NULL;
	}
}

/* ---- does a data change of the backfill need its old values kept? -------------------- */

static bool same_rel(const char *schema, const char *rel, const PgQuery__RangeVar *rv)
{
	const char *s = rv->schemaname ? rv->schemaname : "";

	return rv->relname && strcmp(rel, rv->relname) == 0 && strcmp(schema, s) == 0;
}

/*
 * Does undo statement n (of an expand step) drop dml's table, or (columns) column col of it?
 * The new column of a rename is kept in step with the old one: it does not count.
 */
static bool drops(const PgQuery__Node *n, const PgQuery__RangeVar *rv, const char *col,
		  bool columns)
{
	if (n->node_case == PG_QUERY__NODE__NODE_DROP_STMT &&
	    n->drop_stmt->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
		for (size_t k = 0; k < n->drop_stmt->n_objects; k++) {
			const PgQuery__Node *o = n->drop_stmt->objects[k];
			const PgQuery__List *l =
				o->node_case == PG_QUERY__NODE__NODE_LIST ? o->list : NULL;

			if (l && l->n_items == 2 && same_rel(l->items[0]->string->sval,
							    l->items[1]->string->sval, rv))
				return true;
			if (l && l->n_items == 1 && same_rel("", l->items[0]->string->sval, rv))
				return true;
		}
	} else if (col && columns && n->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT) {
		const PgQuery__AlterTableStmt *at = n->alter_table_stmt;

		if (!at->relation || !same_rel(at->relation->schemaname ? at->relation->schemaname
					       : "", at->relation->relname, rv))
			return false;
		for (size_t k = 0; k < at->n_cmds; k++) {
			const PgQuery__AlterTableCmd *c = at->cmds[k]->alter_table_cmd;

			if (c && c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn &&
			    c->name && strcmp(c->name, col) == 0)
				return true;
		}
	}
	return false;
}

/* Does the undo of an expand step of plan drop rv (col NULL) or its column col? */
static bool expand_adds(const struct pgphase_plan *plan, const PgQuery__RangeVar *rv,
			const char *col)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct pgphase_step *st = &plan->steps[i];
		struct pgphase_error e = PGPHASE_ERROR_INIT;
		struct pgphase_sql sql;
		bool columns = !st->strategy ||
			       strcmp(st->strategy, "rename-column-via-sync-trigger") != 0;
		bool hit = false;

		if (st->phase != PGPHASE_PHASE_EXPAND || !st->undo_sql)
			continue;
		if (pgphase_sql_parse(&sql, st->undo_sql, NULL, &e) < 0) {
			pgphase_error_release(&e);
			continue;
		}
		for (size_t k = 0; !hit && k < sql.n; k++)
			hit = drops(sql.stmts[k].node, rv, col, columns);
		pgphase_sql_release(&sql);
		if (hit)
			return true;
	}
	return false;
}

bool pgphase_plan_keeps_old(const struct pgphase_plan *plan, const PgQuery__Node *dml)
{
	const PgQuery__RangeVar *rv;

	if (dml->node_case == PG_QUERY__NODE__NODE_DELETE_STMT)
		return !expand_adds(plan, dml->delete_stmt->relation, NULL);
	if (dml->node_case != PG_QUERY__NODE__NODE_UPDATE_STMT)
		return false;
	rv = dml->update_stmt->relation;
	if (expand_adds(plan, rv, NULL))
		return false;
	for (size_t i = 0; i < dml->update_stmt->n_target_list; i++) {
		const PgQuery__ResTarget *t = dml->update_stmt->target_list[i]->res_target;

		if (!t || !t->name || !expand_adds(plan, rv, t->name))
			return true;
	}
	return false;
}
