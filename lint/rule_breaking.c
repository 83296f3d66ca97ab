/*
 * Changes that break the app version still running while the new one rolls out: renames,
 * a required column the old app does not fill, and a column type change (which also
 * rewrites the table).  Type changes PostgreSQL performs without a rewrite — varchar(n) to
 * text or a wider varchar, wider numeric precision, cidr to inet — pass silently when the
 * column's current type is known from earlier migrations.
 */
#include <stdio.h>
#include <string.h>

#include "lint.h"

/* "TABLE", "VIEW", ... for a relation rename, NULL for other renames. */
static const char *relation_rename(PgQuery__ObjectType t)
{
	switch (t) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE: return "TABLE";
	case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW: return "VIEW";
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW: return "MATERIALIZED VIEW";
	case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE: return "FOREIGN TABLE";
	default: return NULL;
	}
}

static void check_rename_column(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__RenameStmt *r = st->node->rename_stmt;

	if (r->rename_type != PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN || !r->relation ||
	    lint_column_is_new(ctx, r->relation->relname, r->subname))
		return;
	lint_report(ctx, st, -1,
		    "add the new column, keep both in sync with a trigger, backfill, switch the app, "
		    "then drop the old column under -- CONTRACT",
		    "RENAME COLUMN \"%s\" TO \"%s\" on \"%s\" breaks every query of the app version "
		    "still running that names \"%s\"",
		    r->subname, r->newname, r->relation->relname, r->subname);
}

static void check_rename_table(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__RenameStmt *r = st->node->rename_stmt;
	char name[LINT_NAME_MAX];

	if (!relation_rename(r->rename_type) || lint_table_is_new(ctx, r->relation))
		return;
	lint_report(ctx, st, -1,
		    "rename it and create a view with the old name for the running app (a simple "
		    "view is updatable); drop the view under -- CONTRACT",
		    "ALTER %s \"%s\" RENAME TO \"%s\" breaks every query of the app version still "
		    "running that names \"%s\"",
		    relation_rename(r->rename_type), lint_rv_name(r->relation, name), r->newname,
		    r->relation->relname);
}

static void check_rename_schema(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__RenameStmt *r = st->node->rename_stmt;

	if (r->rename_type != PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA ||
	    lint_object_is_new(ctx, 's', r->subname))
		return;
	lint_report(ctx, st, -1,
		    "create the new schema and move objects with views left behind under the old "
		    "name, or rename during a maintenance window",
		    "ALTER SCHEMA \"%s\" RENAME TO \"%s\" breaks every query and search_path of the "
		    "running app that names \"%s\"",
		    r->subname, r->newname, r->subname);
}

static void check_rename_enum_value(struct pgphase_lint_ctx *ctx,
				    const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterEnumStmt *e = st->node->alter_enum_stmt;
	char name[LINT_NAME_MAX];

	if (!e->old_val || !e->old_val[0] ||
	    lint_object_is_new(ctx, 't', lint_last_name(e->type_name, e->n_type_name)))
		return;
	lint_report(ctx, st, -1,
		    "ADD VALUE the new label, move rows to it in batches, switch the app, and stop "
		    "using the old label (enum labels cannot be dropped; consider a lookup table)",
		    "ALTER TYPE \"%s\" RENAME VALUE '%s' TO '%s' breaks the running app, which still "
		    "writes and compares '%s'",
		    lint_names(e->type_name, e->n_type_name, name), e->old_val, e->new_val, e->old_val);
}

static bool is_serial(const char *t)
{
	static const char *const serials[] = { "serial", "serial4", "bigserial", "serial8",
					       "smallserial", "serial2", NULL };

	for (size_t i = 0; serials[i]; i++)
		if (strcmp(t, serials[i]) == 0)
			return true;
	return false;
}

static void check_add_required(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	if (lint_table_is_new(ctx, a->relation))
		return;
	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);
		const PgQuery__ColumnDef *cd;

		if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn || !c->def ||
		    c->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
			continue;
		cd = c->def->column_def;
		if (!(cd->is_not_null || lint_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL) ||
		      lint_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)) ||
		    lint_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT) ||
		    lint_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY) ||
		    lint_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED) ||
		    is_serial(lint_type_base(cd->type_name)))
			continue;
		lint_report(ctx, st, cd->location,
			    "add the column nullable (or with a DEFAULT), backfill it, then SET NOT NULL "
			    "under -- CONTRACT after a validated CHECK (col IS NOT NULL)",
			    "ADD COLUMN \"%s\" NOT NULL without a DEFAULT fails on a table that has rows, "
			    "and every INSERT of the app version still running fails because it does not "
			    "set \"%s\"",
			    cd->colname, cd->colname);
	}
}

/* Can PostgreSQL change old to new without rewriting the table (binary-coercible)? */
static bool rewrite_free(const PgQuery__TypeName *old, const PgQuery__TypeName *new)
{
	const char *o = lint_type_base(old), *n = lint_type_base(new);
	int o1 = lint_typmod(old, 0), o2 = lint_typmod(old, 1);
	int n1 = lint_typmod(new, 0), n2 = lint_typmod(new, 1);

	if ((old->n_array_bounds > 0) != (new->n_array_bounds > 0))
		return false;
	if (strcmp(o, n) == 0) {
		if (o1 == n1 && o2 == n2)
			return true; /* same type and modifiers: nothing changes */
		if (strcmp(o, "varchar") == 0 || strcmp(o, "varbit") == 0)
			return n1 < 0 || (o1 >= 0 && n1 >= o1); /* unlimited or wider */
		if (strcmp(o, "numeric") == 0) /* numeric(p) has scale 0; same scale, p not lower */
			return n1 < 0 || (o1 >= 0 && n1 >= o1 && (n2 < 0 ? 0 : n2) == (o2 < 0 ? 0 : o2));
		return false;
	}
	if (strcmp(n, "text") == 0 && strcmp(o, "varchar") == 0)
		return true;
	if (strcmp(o, "text") == 0 && strcmp(n, "varchar") == 0 && n1 < 0)
		return true;
	if (strcmp(o, "cidr") == 0 && strcmp(n, "inet") == 0)
		return true;
	return false;
}

static void check_change_type(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	if (!a->relation || a->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
	    lint_table_is_new(ctx, a->relation))
		return;
	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);
		const PgQuery__TypeName *old, *new;
		const PgQuery__ColumnDef *cd;
		char type[LINT_NAME_MAX], was[LINT_NAME_MAX];

		if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType || !c->def ||
		    c->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF ||
		    lint_column_is_new(ctx, a->relation->relname, c->name))
			continue;
		cd = c->def->column_def;
		new = cd->type_name;
		old = lint_column_type(ctx, a->relation->relname, c->name);
		/* USING recomputes every value: always a rewrite */
		if (old && new && !cd->raw_default && rewrite_free(old, new))
			continue;
		if (old)
			snprintf(was, sizeof(was), "from %s ", lint_type_sql(old, type));
		else
			was[0] = '\0';
		lint_report(ctx, st, lint_cmd_location(st, i),
			    "add a column of the new type, keep it in sync with a trigger, backfill in "
			    "batches, switch the app, then drop the old column under -- CONTRACT",
			    "ALTER COLUMN \"%s\" TYPE %s %srewrites \"%s\" and rebuilds its indexes under "
			    "an ACCESS EXCLUSIVE lock, blocking reads and writes throughout, and the "
			    "running app may break on the new type%s",
			    c->name, lint_type_sql(new, type), was, a->relation->relname,
			    old ? "" : " (the column's current type is not declared in the migrations "
				       "linted, so a rewrite-free change cannot be recognised)");
	}
}

const struct pgphase_lint_rule lint_rule_rename_column = {
	.id = "rename-column", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BREAKING,
	.summary = "RENAME COLUMN breaks queries of the running app",
	.node = PG_QUERY__NODE__NODE_RENAME_STMT, .check = check_rename_column,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_rename_table = {
	.id = "rename-table", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BREAKING,
	.summary = "renaming a table or view breaks queries of the running app",
	.node = PG_QUERY__NODE__NODE_RENAME_STMT, .check = check_rename_table,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_rename_schema = {
	.id = "rename-schema", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BREAKING,
	.summary = "renaming a schema breaks queries of the running app",
	.node = PG_QUERY__NODE__NODE_RENAME_STMT, .check = check_rename_schema,
};
const struct pgphase_lint_rule lint_rule_rename_enum_value = {
	.id = "rename-enum-value", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BREAKING,
	.summary = "renaming an enum label breaks the running app that uses it",
	.node = PG_QUERY__NODE__NODE_ALTER_ENUM_STMT, .check = check_rename_enum_value,
};
const struct pgphase_lint_rule lint_rule_add_required_column = {
	.id = "add-required-column", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_BREAKING,
	.summary = "ADD COLUMN NOT NULL without DEFAULT fails and breaks old INSERTs",
	.node = PG_QUERY__NODE__NODE_ALTER_TABLE_STMT, .check = check_add_required,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_change_column_type = {
	.id = "change-column-type", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_BREAKING,
	.summary = "ALTER COLUMN TYPE that rewrites the table (rewrite-free changes pass)",
	.node = PG_QUERY__NODE__NODE_ALTER_TABLE_STMT, .check = check_change_type,
	.plannable = true,
};
