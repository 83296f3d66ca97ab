/*
 * Column type hygiene, checked wherever a column type is written: CREATE TABLE, ADD COLUMN
 * and ALTER COLUMN ... TYPE.  These are not locking hazards but choices that are expensive to
 * undo once a table is large (json instead of jsonb, timestamp without time zone, 32-bit
 * keys, serial, varchar(n), char(n)); plus CHECK constraints on domains.  DOWN sections,
 * which restore an earlier schema, are not checked.
 */
#include <string.h>

#include "lint.h"

struct type_rule {
	const char *const *types; /* base type names the rule is about */
	const char *help;
	const char *fmt;          /* message: %s column, %s type as written */
	bool keys_only;           /* only key columns (prefer-bigint) */
	bool with_length;         /* only when a length is given (varchar(n)) */
};

static bool type_in(const char *t, const char *const *types)
{
	for (size_t i = 0; types[i]; i++)
		if (strcmp(t, types[i]) == 0)
			return true;
	return false;
}

static bool is_key(const struct pgphase_lint_stmt *st, const PgQuery__ColumnDef *cd,
		   const char *col)
{
	const char *t = lint_type_base(cd->type_name);

	if (lint_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) ||
	    lint_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY) ||
	    strcmp(t, "serial") == 0 || strcmp(t, "serial4") == 0 || strcmp(t, "smallserial") == 0 ||
	    strcmp(t, "serial2") == 0)
		return true;
	if (st->node->node_case != PG_QUERY__NODE__NODE_CREATE_STMT || !col)
		return false;
	/* CREATE TABLE ... PRIMARY KEY (col, ...) */
	for (size_t i = 0; i < st->node->create_stmt->n_table_elts; i++) {
		const PgQuery__Node *e = st->node->create_stmt->table_elts[i];

		if (e->node_case != PG_QUERY__NODE__NODE_CONSTRAINT ||
		    e->constraint->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
			continue;
		for (size_t k = 0; k < e->constraint->n_keys; k++)
			if (lint_str(e->constraint->keys[k]) &&
			    strcmp(lint_str(e->constraint->keys[k]), col) == 0)
				return true;
	}
	return false;
}

static void column_type(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			const PgQuery__RangeVar *table, const PgQuery__ColumnDef *cd,
			const char *colname, void *arg)
{
	const struct type_rule *r = arg;
	char type[LINT_NAME_MAX];

	(void)table;
	if (!cd->type_name || !colname || !type_in(lint_type_base(cd->type_name), r->types) ||
	    (r->keys_only && !is_key(st, cd, colname)) ||
	    (r->with_length && lint_typmod(cd->type_name, 0) < 0))
		return;
	lint_report(ctx, st, cd->type_name->location, r->help, r->fmt, colname,
		    lint_type_sql(cd->type_name, type));
}

static void check_types(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			const struct type_rule *r)
{
	if (!st->down)
		lint_for_each_coldef(ctx, st, column_type, (void *)r);
}

static void check_json(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	static const char *const types[] = { "json", NULL };
	static const struct type_rule r = {
		types, "use jsonb",
		"column \"%s\" is %s: it stores the text verbatim, has no equality operator (no "
		"DISTINCT, GROUP BY or UNION) and cannot be indexed with GIN",
		false,
	};

	check_types(ctx, st, &r);
}

static void check_timestamptz(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	static const char *const types[] = { "timestamp", NULL };
	static const struct type_rule r = {
		types, "use timestamptz (timestamp with time zone)",
		"column \"%s\" is %s without time zone: its values mean different instants for "
		"sessions in different time zones and around DST changes",
		false,
	};

	check_types(ctx, st, &r);
}

static void check_bigint(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	static const char *const types[] = { "int4", "int2", "serial", "serial4", "smallserial",
					     "serial2", NULL };
	static const struct type_rule r = {
		types, "use bigint (bigint GENERATED ALWAYS AS IDENTITY for generated keys)",
		"key column \"%s\" is %s: it runs out at 2,147,483,647 (32,767 for smallint), and "
		"widening it later rewrites the table and every table referencing it",
		true,
	};

	check_types(ctx, st, &r);
}

static void check_identity(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	static const char *const types[] = { "serial", "serial4", "bigserial", "serial8",
					     "smallserial", "serial2", NULL };
	static const struct type_rule r = {
		types, "use bigint GENERATED ALWAYS AS IDENTITY (or BY DEFAULT)",
		"column \"%s\" is %s: its sequence is a separate object with its own permissions "
		"and ownership, and it cannot be altered or restarted like an identity column",
		false,
	};

	check_types(ctx, st, &r);
}

static void check_text(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	static const char *const types[] = { "varchar", NULL };
	static const struct type_rule r = {
		types, "use text, with CHECK (length(col) <= n) if a limit is really wanted",
		"column \"%s\" is %s: the length limit brings no speed or storage benefit over "
		"text, and changing it is a schema migration every time",
		false, true, /* varchar without a length is text */
	};

	check_types(ctx, st, &r);
}

static void check_char(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	static const char *const types[] = { "bpchar", NULL };
	static const struct type_rule r = {
		types, "use text (or varchar without a length)",
		"column \"%s\" is %s: values are blank-padded to the length, which wastes "
		"space and makes comparisons and lengths surprising",
		false,
	};

	check_types(ctx, st, &r);
}

static void check_domain(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__Node *n = st->node;
	char name[LINT_NAME_MAX];

	if (n->node_case == PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT) {
		const PgQuery__CreateDomainStmt *d = n->create_domain_stmt;

		for (size_t i = 0; i < d->n_constraints; i++) {
			const PgQuery__Node *c = d->constraints[i];

			if (c->node_case != PG_QUERY__NODE__NODE_CONSTRAINT ||
			    c->constraint->contype != PG_QUERY__CONSTR_TYPE__CONSTR_CHECK)
				continue;
			lint_report(ctx, st, c->constraint->location,
				    "keep the domain plain and put the CHECK on the columns (it can be "
				    "added NOT VALID and validated later)",
				    "domain \"%s\" has a CHECK constraint: changing it later re-checks every "
				    "column of the domain in every table under locks",
				    lint_names(d->domainname, d->n_domainname, name));
			return;
		}
	} else if (n->node_case == PG_QUERY__NODE__NODE_ALTER_DOMAIN_STMT) {
		const PgQuery__AlterDomainStmt *d = n->alter_domain_stmt;

		/* subtype 'C': ADD CONSTRAINT */
		if (strcmp(d->subtype, "C") != 0 || !d->def ||
		    d->def->node_case != PG_QUERY__NODE__NODE_CONSTRAINT ||
		    d->def->constraint->contype != PG_QUERY__CONSTR_TYPE__CONSTR_CHECK)
			return;
		lint_report(ctx, st, d->def->constraint->location,
			    "put the CHECK on the columns instead (NOT VALID, then VALIDATE)",
			    "ALTER DOMAIN \"%s\" ADD CONSTRAINT %s every column of the domain in every "
			    "table, holding locks on each",
			    lint_names(d->type_name, d->n_type_name, name),
			    d->def->constraint->skip_validation ? "will have to re-check"
								: "scans");
	}
}

const struct pgphase_lint_rule lint_rule_json_column = {
	.id = "json-column", .severity = PGPHASE_LINT_WARNING, .category = PGPHASE_LINT_HYGIENE,
	.summary = "json column (use jsonb)", .check = check_json,
};
const struct pgphase_lint_rule lint_rule_prefer_timestamptz = {
	.id = "prefer-timestamptz", .severity = PGPHASE_LINT_WARNING,
	.category = PGPHASE_LINT_HYGIENE,
	.summary = "timestamp without time zone (use timestamptz)", .check = check_timestamptz,
};
const struct pgphase_lint_rule lint_rule_prefer_bigint = {
	.id = "prefer-bigint", .severity = PGPHASE_LINT_WARNING, .category = PGPHASE_LINT_HYGIENE,
	.summary = "integer / smallint / serial key column (use bigint)", .check = check_bigint,
};
const struct pgphase_lint_rule lint_rule_prefer_identity = {
	.id = "prefer-identity", .severity = PGPHASE_LINT_WARNING, .category = PGPHASE_LINT_HYGIENE,
	.summary = "serial column (use GENERATED AS IDENTITY)", .check = check_identity,
};
const struct pgphase_lint_rule lint_rule_prefer_text = {
	.id = "prefer-text", .severity = PGPHASE_LINT_WARNING, .category = PGPHASE_LINT_HYGIENE,
	.summary = "varchar(n) column (use text with a CHECK)", .check = check_text,
};
const struct pgphase_lint_rule lint_rule_ban_char = {
	.id = "ban-char", .severity = PGPHASE_LINT_WARNING, .category = PGPHASE_LINT_HYGIENE,
	.summary = "char(n) column (blank-padded; use text)", .check = check_char,
};
const struct pgphase_lint_rule lint_rule_domain_with_constraint = {
	.id = "domain-with-constraint", .severity = PGPHASE_LINT_WARNING,
	.category = PGPHASE_LINT_HYGIENE,
	.summary = "CHECK constraint on a domain", .check = check_domain,
};
