/*
 * Constraints on existing tables.  Adding a foreign key or CHECK validates every row under
 * a blocking lock unless it is added NOT VALID and validated in a later transaction; UNIQUE
 * and PRIMARY KEY build their index under ACCESS EXCLUSIVE unless it was built CONCURRENTLY
 * first and attached with USING INDEX; SET NOT NULL scans the table unless a validated
 * CHECK (col IS NOT NULL) already proves it (PostgreSQL 12+).  fk-without-index looks for an
 * index on the referencing columns anywhere in the directory.
 */
#include <stdio.h>
#include <string.h>

#include "lint.h"

/* Call fn for each constraint an ALTER TABLE adds, table- or column-level. */
static void each_added_constraint(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
				  void (*fn)(struct pgphase_lint_ctx *ctx,
					     const struct pgphase_lint_stmt *st,
					     const PgQuery__RangeVar *table,
					     const PgQuery__Constraint *c,
					     const PgQuery__ColumnDef *column))
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	if (!a->relation || lint_table_is_new(ctx, a->relation))
		return;
	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

		if (!c || !c->def)
			continue;
		if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint &&
		    c->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
			fn(ctx, st, a->relation, c->def->constraint, NULL);
		} else if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn &&
			   c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
			const PgQuery__ColumnDef *cd = c->def->column_def;

			for (size_t k = 0; k < cd->n_constraints; k++)
				if (cd->constraints[k]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
					fn(ctx, st, a->relation, cd->constraints[k]->constraint, cd);
		}
	}
}

static void foreign_key(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			const PgQuery__RangeVar *table, const PgQuery__Constraint *c,
			const PgQuery__ColumnDef *column)
{
	char t[LINT_NAME_MAX], ref[LINT_NAME_MAX];

	if (c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN || c->skip_validation)
		return;
	lint_rv_name(table, t);
	lint_rv_name(c->pktable, ref);
	if (column)
		lint_report(ctx, st, c->location,
			    "add the column without REFERENCES, then ADD CONSTRAINT ... FOREIGN KEY ... "
			    "NOT VALID and VALIDATE CONSTRAINT in a later transaction",
			    "ADD COLUMN \"%s\" REFERENCES \"%s\" validates the new foreign key by scanning "
			    "\"%s\" while ALTER TABLE holds an ACCESS EXCLUSIVE lock on it and a SHARE ROW "
			    "EXCLUSIVE lock on \"%s\"", column->colname, ref, t, ref);
	else
		lint_report(ctx, st, c->location,
			    "add it NOT VALID (a brief lock), then VALIDATE CONSTRAINT in a later "
			    "transaction: validation takes SHARE UPDATE EXCLUSIVE, so reads and writes go on",
			    "ADD FOREIGN KEY on \"%s\" validates every row while holding SHARE ROW "
			    "EXCLUSIVE locks on \"%s\" and \"%s\", blocking writes to both tables for the "
			    "whole scan", t, t, ref);
}

static void check_add_foreign_key(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	each_added_constraint(ctx, st, foreign_key);
}

static void check_constraint(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			     const PgQuery__RangeVar *table, const PgQuery__Constraint *c,
			     const PgQuery__ColumnDef *column)
{
	char t[LINT_NAME_MAX];

	/* a column-level CHECK on a new column sees only the column's default: not reported */
	if (c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_CHECK || c->skip_validation || column)
		return;
	lint_report(ctx, st, c->location,
		    "add it NOT VALID (new rows are checked at once), then VALIDATE CONSTRAINT in a "
		    "later transaction: validation takes SHARE UPDATE EXCLUSIVE, so reads and writes go on",
		    "ADD CHECK on \"%s\" scans the whole table under an ACCESS EXCLUSIVE lock, "
		    "blocking reads and writes until every row is checked", lint_rv_name(table, t));
}

static void check_add_check(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	each_added_constraint(ctx, st, check_constraint);
}

static void check_validate_same_txn(struct pgphase_lint_ctx *ctx,
				    const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	for (size_t i = 0; a->relation && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

		if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint ||
		    !lint_constraint_added_here(ctx, a->relation->relname, c->name))
			continue;
		lint_report(ctx, st, lint_cmd_location(st, i),
			    "validate it in a later migration or phase (pgphase validates at the end of "
			    "backfill), or after a COMMIT",
			    "VALIDATE CONSTRAINT \"%s\" runs in the transaction that added it NOT VALID: "
			    "the ACCESS EXCLUSIVE lock of the ADD is still held for the whole validation "
			    "scan, so NOT VALID gained nothing", c->name);
	}
}

static void unique_or_pk(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			 const PgQuery__RangeVar *table, const PgQuery__Constraint *c,
			 const PgQuery__ColumnDef *column, bool primary)
{
	char t[LINT_NAME_MAX];
	const char *kind = primary ? "PRIMARY KEY" : "UNIQUE";

	if (column || (c->indexname && c->indexname[0]) ||
	    c->contype != (primary ? PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY
				   : PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE))
		return;
	lint_report(ctx, st, c->location,
		    primary ? "CREATE UNIQUE INDEX CONCURRENTLY on the key columns (after making them "
			      "NOT NULL safely), then ADD CONSTRAINT ... PRIMARY KEY USING INDEX"
			    : "CREATE UNIQUE INDEX CONCURRENTLY on the columns, then ADD CONSTRAINT ... "
			      "UNIQUE USING INDEX",
		    "ADD %s on \"%s\" builds its index under an ACCESS EXCLUSIVE lock, blocking reads "
		    "and writes for the whole build%s",
		    kind, lint_rv_name(table, t),
		    primary ? ", and scans the table to set NOT NULL on the key columns" : "");
}

static void unique_constraint(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			      const PgQuery__RangeVar *table, const PgQuery__Constraint *c,
			      const PgQuery__ColumnDef *column)
{
	unique_or_pk(ctx, st, table, c, column, false);
}

static void primary_key(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			const PgQuery__RangeVar *table, const PgQuery__Constraint *c,
			const PgQuery__ColumnDef *column)
{
	unique_or_pk(ctx, st, table, c, column, true);
}

static void check_add_unique(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	each_added_constraint(ctx, st, unique_constraint);
}

static void check_add_primary_key(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	each_added_constraint(ctx, st, primary_key);
}

static void exclusion(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
		      const PgQuery__RangeVar *table, const PgQuery__Constraint *c,
		      const PgQuery__ColumnDef *column)
{
	char t[LINT_NAME_MAX];

	(void)column;
	if (c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION)
		return;
	lint_report(ctx, st, c->location,
		    "declare exclusion constraints when the table is created; on a populated table "
		    "add it in a maintenance window",
		    "ADD EXCLUDE on \"%s\" builds its index and checks every row under an ACCESS "
		    "EXCLUSIVE lock, and exclusion constraints can be neither NOT VALID nor USING INDEX",
		    lint_rv_name(table, t));
}

static void check_add_exclusion(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	each_added_constraint(ctx, st, exclusion);
}

static void column_unique(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			  const PgQuery__RangeVar *table, const PgQuery__Constraint *c,
			  const PgQuery__ColumnDef *column)
{
	char t[LINT_NAME_MAX];

	if (!column || (c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE &&
			c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY))
		return;
	lint_report(ctx, st, c->location,
		    "add the column without it, CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT "
		    "... UNIQUE USING INDEX",
		    "ADD COLUMN \"%s\" %s builds a unique index on \"%s\" while ALTER TABLE holds an "
		    "ACCESS EXCLUSIVE lock, blocking reads and writes for the whole build",
		    column->colname,
		    c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ? "PRIMARY KEY" : "UNIQUE",
		    lint_rv_name(table, t));
}

static void check_add_column_unique(struct pgphase_lint_ctx *ctx,
				    const struct pgphase_lint_stmt *st)
{
	each_added_constraint(ctx, st, column_unique);
}

static void check_set_not_null(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	for (size_t i = 0; a->relation && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);
		const char *table = a->relation->relname;
		bool proven;
		char help[400];

		if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull ||
		    lint_column_is_new(ctx, table, c->name))
			continue;
		proven = lint_not_null_proven(ctx, table, c->name);
		if (proven && ctx->pg_version >= 12)
			continue;
		if (ctx->pg_version >= 12)
			snprintf(help, sizeof(help),
				 "first ADD CONSTRAINT %s_not_null CHECK (%s IS NOT NULL) NOT VALID and "
				 "VALIDATE it in a later transaction; SET NOT NULL then skips the scan, and "
				 "the CHECK can be dropped", c->name, c->name);
		else
			snprintf(help, sizeof(help),
				 "PostgreSQL %d always scans for SET NOT NULL: keep a validated CHECK (%s "
				 "IS NOT NULL) instead, or upgrade to 12+ where that CHECK lets SET NOT NULL "
				 "skip the scan", ctx->pg_version, c->name);
		lint_report(ctx, st, lint_cmd_location(st, i), help,
			    "SET NOT NULL on \"%s\".\"%s\" scans the whole table under an ACCESS "
			    "EXCLUSIVE lock, blocking reads and writes until every row is checked%s",
			    table, c->name,
			    proven ? " (the validated CHECK proving it is used only from PostgreSQL 12)"
				   : "");
	}
}

/* ---- fk-without-index ---- */

static void fk_index(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
		     const PgQuery__RangeVar *table, const PgQuery__Constraint *c, const char *column)
{
	const char *cols[32];
	char list[LINT_NAME_MAX], t[LINT_NAME_MAX], ref[LINT_NAME_MAX], key[LINT_KEY_MAX];
	size_t n = 0, len = 0;

	if (c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN)
		return;
	if (column)
		cols[n++] = column;
	for (size_t i = 0; i < c->n_fk_attrs && n < 32; i++)
		if (lint_str(c->fk_attrs[i]))
			cols[n++] = lint_str(c->fk_attrs[i]);
	if (!n || lint_has_index(ctx, table->relname, cols, n))
		return;
	/* a later migration may still create the index: the finding waits for the unit */
	lint_pending_begin(ctx, lint_index_key(key, table->relname, cols, n));
	list[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", cols[i]);
	lint_rv_name(table, t);
	lint_rv_name(c->pktable, ref);
	lint_report(ctx, st, c->location,
		    "CREATE INDEX CONCURRENTLY ON the referencing columns (in any migration)",
		    "foreign key %s(%s) has no index on its referencing columns anywhere in the "
		    "migrations: every DELETE or key UPDATE on \"%s\" scans \"%s\" while holding its "
		    "locks", t, list, ref, t);
	lint_pending_end(ctx);
}

static void check_fk_without_index(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__Node *n = st->node;

	if (st->down)
		return;
	if (n->node_case == PG_QUERY__NODE__NODE_CREATE_STMT) {
		const PgQuery__CreateStmt *cs = n->create_stmt;

		for (size_t i = 0; i < cs->n_table_elts; i++) {
			const PgQuery__Node *e = cs->table_elts[i];

			if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
				fk_index(ctx, st, cs->relation, e->constraint, NULL);
			} else if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
				const PgQuery__ColumnDef *cd = e->column_def;

				for (size_t k = 0; k < cd->n_constraints; k++)
					if (cd->constraints[k]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
						fk_index(ctx, st, cs->relation, cd->constraints[k]->constraint,
							 cd->colname);
			}
		}
	} else if (n->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT) {
		const PgQuery__AlterTableStmt *a = n->alter_table_stmt;

		for (size_t i = 0; a->relation && i < a->n_cmds; i++) {
			const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

			if (!c || !c->def)
				continue;
			if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint &&
			    c->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT)
				fk_index(ctx, st, a->relation, c->def->constraint, NULL);
			else if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn &&
				 c->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
				for (size_t k = 0; k < c->def->column_def->n_constraints; k++)
					if (c->def->column_def->constraints[k]->node_case ==
					    PG_QUERY__NODE__NODE_CONSTRAINT)
						fk_index(ctx, st, a->relation,
							 c->def->column_def->constraints[k]->constraint,
							 c->def->column_def->colname);
		}
	}
}

#define ALTER PG_QUERY__NODE__NODE_ALTER_TABLE_STMT

const struct pgphase_lint_rule lint_rule_add_foreign_key = {
	.id = "add-foreign-key", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "ADD FOREIGN KEY without NOT VALID blocks writes to both tables",
	.node = ALTER, .check = check_add_foreign_key,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_add_check = {
	.id = "add-check", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "ADD CHECK without NOT VALID scans under ACCESS EXCLUSIVE",
	.node = ALTER, .check = check_add_check,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_validate_in_same_transaction = {
	.id = "validate-in-same-transaction", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_BLOCKING,
	.summary = "VALIDATE CONSTRAINT in the transaction that added it NOT VALID",
	.node = ALTER, .check = check_validate_same_txn,
};
const struct pgphase_lint_rule lint_rule_add_unique_constraint = {
	.id = "add-unique-constraint", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_BLOCKING,
	.summary = "ADD UNIQUE without USING INDEX builds the index under ACCESS EXCLUSIVE",
	.node = ALTER, .check = check_add_unique,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_add_primary_key = {
	.id = "add-primary-key", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "ADD PRIMARY KEY without USING INDEX builds the index under ACCESS EXCLUSIVE",
	.node = ALTER, .check = check_add_primary_key,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_add_exclusion_constraint = {
	.id = "add-exclusion-constraint", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_BLOCKING,
	.summary = "ADD EXCLUDE on an existing table locks it for the build and check",
	.node = ALTER, .check = check_add_exclusion,
};
const struct pgphase_lint_rule lint_rule_add_column_unique = {
	.id = "add-column-unique", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "ADD COLUMN ... UNIQUE / PRIMARY KEY builds an index under ACCESS EXCLUSIVE",
	.node = ALTER, .check = check_add_column_unique,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_set_not_null = {
	.id = "set-not-null", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "SET NOT NULL scans under ACCESS EXCLUSIVE unless a validated CHECK proves it",
	.node = ALTER, .check = check_set_not_null,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_fk_without_index = {
	.id = "fk-without-index", .severity = PGPHASE_LINT_WARNING, .category = PGPHASE_LINT_HYGIENE,
	.summary = "foreign key whose referencing columns have no index in the directory",
	.check = check_fk_without_index,
};
