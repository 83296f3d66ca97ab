/*
 * Destructive statements: they delete data or objects the running app version still uses.
 * The engine makes them errors when unplaced or in EXPAND and warnings under -- CONTRACT;
 * destructive-in-expand additionally flags an explicit EXPAND/BACKFILL placement.  Dropping
 * something created earlier in the same migration (including a DOWN section undoing its UP)
 * loses nothing and is not reported.
 */
#include <stdio.h>
#include <string.h>

#include "lint.h"

#define CONTRACT_HELP "stop the running app from using it first, then drop it under -- CONTRACT"

/* Kind letter for lint_object_is_new() and a display name, per DROP object type. */
static bool drop_kind(PgQuery__ObjectType t, char *kind, const char **what)
{
	switch (t) {
	case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE: *kind = 'r'; *what = "TABLE"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA: *kind = 's'; *what = "SCHEMA"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW: *kind = 'r'; *what = "VIEW"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
		*kind = 'r'; *what = "MATERIALIZED VIEW"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
		*kind = 'r'; *what = "FOREIGN TABLE"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE: *kind = 'r'; *what = "SEQUENCE"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_TYPE: *kind = 't'; *what = "TYPE"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN: *kind = 't'; *what = "DOMAIN"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION: *kind = 'f'; *what = "FUNCTION"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE: *kind = 'f'; *what = "PROCEDURE"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_ROUTINE: *kind = 'f'; *what = "ROUTINE"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_AGGREGATE: *kind = 'f'; *what = "AGGREGATE"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_EXTENSION: *kind = 'e'; *what = "EXTENSION"; return true;
	case PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER: *kind = 'x'; *what = "TRIGGER"; return true;
	default: return false;
	}
}

/* Name of an object in a DROP list, for the freshness check (last name component). */
static const char *drop_object_last(const PgQuery__Node *obj)
{
	if (obj->node_case == PG_QUERY__NODE__NODE_STRING)
		return obj->string->sval;
	if (obj->node_case == PG_QUERY__NODE__NODE_LIST)
		return lint_last_name(obj->list->items, obj->list->n_items);
	if (obj->node_case == PG_QUERY__NODE__NODE_TYPE_NAME)
		return lint_type_base(obj->type_name);
	if (obj->node_case == PG_QUERY__NODE__NODE_OBJECT_WITH_ARGS)
		return lint_last_name(obj->object_with_args->objname,
				      obj->object_with_args->n_objname);
	return NULL;
}

/* The first object of a DROP that existed before this migration, or NULL. */
static const PgQuery__Node *old_object(const struct pgphase_lint_ctx *ctx,
				       const PgQuery__DropStmt *d, char kind)
{
	for (size_t i = 0; i < d->n_objects; i++)
		if (!lint_object_is_new(ctx, kind, drop_object_last(d->objects[i])))
			return d->objects[i];
	return NULL;
}

static const char *cascade(const PgQuery__DropStmt *d)
{
	return d->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE
		       ? "; CASCADE also drops every view, constraint and object that depends on it"
		       : "";
}

static void check_drop_table(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__DropStmt *d = st->node->drop_stmt;
	const PgQuery__Node *obj;
	char name[LINT_NAME_MAX];

	if (d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || !(obj = old_object(ctx, d, 'r')))
		return;
	lint_report(ctx, st, -1, CONTRACT_HELP "; keep a backup (pg_dump -t) if the data may be needed",
		    "DROP TABLE \"%s\" deletes the table and all its rows under an ACCESS EXCLUSIVE "
		    "lock, and the app version still running queries it%s",
		    lint_object_name(obj, name), cascade(d));
}

static void check_drop_schema(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__DropStmt *d = st->node->drop_stmt;
	const PgQuery__Node *obj;
	char name[LINT_NAME_MAX];

	if (d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA || !(obj = old_object(ctx, d, 's')))
		return;
	lint_report(ctx, st, -1, "drop the schema's objects one by one under -- CONTRACT once the "
		    "running app no longer uses them, then the empty schema",
		    "DROP SCHEMA \"%s\" removes the schema the running app resolves names in%s",
		    lint_object_name(obj, name),
		    d->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE
			    ? ", and CASCADE deletes every table, view and function in it with all their data"
			    : "");
}

static void check_drop_database(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	lint_report(ctx, st, -1, "drop databases by hand, outside migrations, after a backup",
		    "DROP DATABASE \"%s\" deletes a whole database and all its data",
		    st->node->dropdb_stmt->dbname);
}

static void check_drop_object(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__DropStmt *d = st->node->drop_stmt;
	const PgQuery__Node *obj;
	const char *what, *extra = "";
	char kind, name[2 * LINT_NAME_MAX + 8];

	if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
	    d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA ||
	    !drop_kind(d->remove_type, &kind, &what) || !(obj = old_object(ctx, d, kind)))
		return;
	if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE)
		extra = " and loses its current value";
	else if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW)
		extra = " and its stored rows";
	else if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER)
		extra = " (taking an ACCESS EXCLUSIVE lock on its table) and the behaviour the "
			"running app relies on";
	if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER &&
	    obj->node_case == PG_QUERY__NODE__NODE_LIST && obj->list->n_items > 1) {
		/* DROP TRIGGER name ON table: the list is table name parts, then the trigger */
		char table[LINT_NAME_MAX];

		lint_names(obj->list->items, obj->list->n_items - 1, table);
		snprintf(name, sizeof(name), "%s\" on \"%s", drop_object_last(obj), table);
	} else {
		lint_object_name(obj, name);
	}
	lint_report(ctx, st, -1, CONTRACT_HELP,
		    "DROP %s \"%s\" removes an object the app version still running may use%s%s",
		    what, name, extra, cascade(d));
}

static void check_drop_column(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

		if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn || !a->relation ||
		    lint_column_is_new(ctx, a->relation->relname, c->name))
			continue;
		lint_report(ctx, st, lint_cmd_location(st, i),
			    "first deploy an app version that neither reads nor writes the column, then "
			    "drop it under -- CONTRACT",
			    "DROP COLUMN \"%s\" deletes the column's data from \"%s\" under an ACCESS "
			    "EXCLUSIVE lock, and the app version still running fails on queries that name it",
			    c->name, a->relation->relname);
	}
}

static void check_drop_constraint(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

		if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint ||
		    lint_table_is_new(ctx, a->relation) || lint_object_is_new(ctx, 'c', c->name))
			continue;
		lint_report(ctx, st, lint_cmd_location(st, i),
			    "drop it under -- CONTRACT once the running app no longer relies on it",
			    "DROP CONSTRAINT \"%s\" on \"%s\" takes an ACCESS EXCLUSIVE lock and removes a "
			    "guarantee the running app may rely on (uniqueness for ON CONFLICT, "
			    "referential integrity, valid values)",
			    c->name, a->relation->relname);
	}
}

static void check_drop_not_null(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

		if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull || !a->relation ||
		    lint_column_is_new(ctx, a->relation->relname, c->name))
			continue;
		lint_report(ctx, st, lint_cmd_location(st, i),
			    "deploy app code that handles NULL in the column first, then drop the "
			    "constraint under -- CONTRACT",
			    "DROP NOT NULL on \"%s\".\"%s\" lets NULLs in that the app version still "
			    "running does not expect, and once they exist NOT NULL cannot come back "
			    "without a backfill and a full scan",
			    a->relation->relname, c->name);
	}
}

static void check_truncate(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__TruncateStmt *t = st->node->truncate_stmt;
	char name[LINT_NAME_MAX];

	for (size_t i = 0; i < t->n_relations; i++) {
		const PgQuery__Node *r = t->relations[i];

		if (r->node_case != PG_QUERY__NODE__NODE_RANGE_VAR || lint_table_is_new(ctx, r->range_var))
			continue;
		lint_report(ctx, st, r->range_var->location,
			    "delete in batches under -- BACKFILL, or truncate by hand after a backup",
			    "TRUNCATE \"%s\" deletes every row under an ACCESS EXCLUSIVE lock, blocking "
			    "reads and writes%s",
			    lint_rv_name(r->range_var, name),
			    t->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE
				    ? "; CASCADE also empties every table with a foreign key to it"
				    : "");
		return;
	}
}

/* Does the statement destroy something that existed before this migration? */
static bool destroys(const struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__Node *n = st->node;
	const PgQuery__AlterTableStmt *a;
	char kind;
	const char *what;

	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_DROP_STMT:
		return drop_kind(n->drop_stmt->remove_type, &kind, &what) &&
		       old_object(ctx, n->drop_stmt, kind);
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
		return true;
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
		for (size_t i = 0; i < n->truncate_stmt->n_relations; i++)
			if (n->truncate_stmt->relations[i]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR &&
			    !lint_table_is_new(ctx, n->truncate_stmt->relations[i]->range_var))
				return true;
		return false;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		a = n->alter_table_stmt;
		if (!a->relation || lint_table_is_new(ctx, a->relation))
			return false;
		for (size_t i = 0; i < a->n_cmds; i++) {
			const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

			if (c && (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn ||
				  c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropConstraint ||
				  c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull))
				return true;
		}
		return false;
	default:
		return false;
	}
}

static void check_destructive_in_expand(struct pgphase_lint_ctx *ctx,
					const struct pgphase_lint_stmt *st)
{
	if (st->down || (st->phase != PGPHASE_PHASE_EXPAND && st->phase != PGPHASE_PHASE_BACKFILL) ||
	    !destroys(ctx, st))
		return;
	lint_report(ctx, st, -1, "move it below a -- CONTRACT marker: contract runs once no old "
		    "app version is left",
		    "destructive statement under -- %s: it runs while the app version that still "
		    "uses what it removes is deployed",
		    st->phase == PGPHASE_PHASE_EXPAND ? "EXPAND" : "BACKFILL");
}

const struct pgphase_lint_rule lint_rule_drop_table = {
	.id = "drop-table", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_DESTRUCTIVE,
	.summary = "DROP TABLE deletes data the running app still queries",
	.node = PG_QUERY__NODE__NODE_DROP_STMT, .check = check_drop_table,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_drop_column = {
	.id = "drop-column", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_DESTRUCTIVE,
	.summary = "DROP COLUMN deletes data and breaks queries of the running app",
	.node = PG_QUERY__NODE__NODE_ALTER_TABLE_STMT, .check = check_drop_column,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_drop_schema = {
	.id = "drop-schema", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_DESTRUCTIVE,
	.summary = "DROP SCHEMA removes a namespace (with CASCADE, everything in it)",
	.node = PG_QUERY__NODE__NODE_DROP_STMT, .check = check_drop_schema,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_drop_database = {
	.id = "drop-database", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_DESTRUCTIVE,
	.summary = "DROP DATABASE in a migration",
	.node = PG_QUERY__NODE__NODE_DROPDB_STMT, .check = check_drop_database,
};
const struct pgphase_lint_rule lint_rule_drop_object = {
	.id = "drop-object", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_DESTRUCTIVE,
	.summary = "DROP of a view, type, function, sequence, domain, extension or trigger",
	.node = PG_QUERY__NODE__NODE_DROP_STMT, .check = check_drop_object,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_drop_constraint = {
	.id = "drop-constraint", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_DESTRUCTIVE,
	.summary = "DROP CONSTRAINT removes a guarantee the running app may rely on",
	.node = PG_QUERY__NODE__NODE_ALTER_TABLE_STMT, .check = check_drop_constraint,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_drop_not_null = {
	.id = "drop-not-null", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_DESTRUCTIVE,
	.summary = "DROP NOT NULL lets in NULLs the running app does not expect",
	.node = PG_QUERY__NODE__NODE_ALTER_TABLE_STMT, .check = check_drop_not_null,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_truncate = {
	.id = "truncate", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_DESTRUCTIVE,
	.summary = "TRUNCATE deletes every row (CASCADE: of referencing tables too)",
	.node = PG_QUERY__NODE__NODE_TRUNCATE_STMT, .check = check_truncate,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_destructive_in_expand = {
	.id = "destructive-in-expand", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_HYGIENE,
	.summary = "destructive statement placed under -- EXPAND or -- BACKFILL",
	.check = check_destructive_in_expand,
};
