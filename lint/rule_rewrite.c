/*
 * ALTER TABLE forms that rewrite or scan a table under an ACCESS EXCLUSIVE lock: ADD COLUMN
 * with a volatile default, a serial / identity / stored generated column (or any default
 * before PostgreSQL 11), SET LOGGED / UNLOGGED, SET TABLESPACE; partition attach and
 * detach; and enum values used in the transaction that added them.
 */
#include <string.h>

#include "lint.h"

/* ADD COLUMN definitions of an ALTER TABLE on an existing table, with cmd index. */
static const PgQuery__ColumnDef *added_column(struct pgphase_lint_ctx *ctx,
					      const PgQuery__AlterTableStmt *a, size_t i)
{
	const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

	if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn || !c->def ||
	    c->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF || lint_table_is_new(ctx, a->relation))
		return NULL;
	return c->def->column_def;
}

static const PgQuery__Node *default_expr(const PgQuery__ColumnDef *cd)
{
	const PgQuery__Constraint *d = lint_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT);

	if (d && d->raw_expr)
		return d->raw_expr;
	return cd->raw_default;
}

static bool null_literal(const PgQuery__Node *e)
{
	if (e && e->node_case == PG_QUERY__NODE__NODE_TYPE_CAST)
		e = e->type_cast->arg;
	return e && e->node_case == PG_QUERY__NODE__NODE_A_CONST && e->a_const->isnull;
}

static void check_volatile_default(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__ColumnDef *cd = added_column(ctx, a, i);
		const PgQuery__Node *def = cd ? default_expr(cd) : NULL;
		const char *func = NULL;
		enum sql_volatility v;

		if (!def)
			continue;
		v = sql_expr_volatility(def, &func);
		if (v == SQL_VOL_STABLE)
			continue;
		lint_report(ctx, st, lint_location(def),
			    "add the column without the default, SET DEFAULT in a second statement (new "
			    "rows only), and fill existing rows in batches under -- BACKFILL",
			    "ADD COLUMN \"%s\" DEFAULT %s() %s \"%s\" under an ACCESS EXCLUSIVE lock, "
			    "computing the default for every existing row while reads and writes wait%s",
			    cd->colname, func, v == SQL_VOL_VOLATILE ? "rewrites" : "may rewrite",
			    a->relation->relname,
			    v == SQL_VOL_VOLATILE ? "" : " (it does if the function is VOLATILE; pgphase cannot "
						      "tell for functions it does not know)");
	}
}

static bool is_serial(const char *t)
{
	return strcmp(t, "serial") == 0 || strcmp(t, "serial4") == 0 || strcmp(t, "bigserial") == 0 ||
	       strcmp(t, "serial8") == 0 || strcmp(t, "smallserial") == 0 || strcmp(t, "serial2") == 0;
}

static void check_add_column_rewrite(struct pgphase_lint_ctx *ctx,
				     const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__ColumnDef *cd = added_column(ctx, a, i);
		const PgQuery__Constraint *k;
		const PgQuery__Node *def;
		const char *func;

		if (!cd)
			continue;
		if (is_serial(lint_type_base(cd->type_name)) ||
		    (k = lint_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY))) {
			lint_report(ctx, st, cd->location,
				    "add a nullable bigint column, give new rows a sequence default, "
				    "backfill old rows in batches, then SET NOT NULL via a validated CHECK",
				    "ADD COLUMN \"%s\" %s numbers every existing row from a sequence, "
				    "rewriting \"%s\" under an ACCESS EXCLUSIVE lock that blocks reads and writes",
				    cd->colname,
				    is_serial(lint_type_base(cd->type_name)) ? lint_type_base(cd->type_name)
									 : "GENERATED AS IDENTITY",
				    a->relation->relname);
		} else if ((k = lint_column_constraint(cd, PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED))) {
			lint_report(ctx, st, k->location,
				    "add a plain column, fill it with a trigger for new rows and in "
				    "batches under -- BACKFILL for old ones",
				    "ADD COLUMN \"%s\" GENERATED ALWAYS AS (...) STORED computes the value for "
				    "every existing row, rewriting \"%s\" under an ACCESS EXCLUSIVE lock",
				    cd->colname, a->relation->relname);
		} else if (ctx->pg_version < 11 && (def = default_expr(cd)) && !null_literal(def) &&
			   sql_expr_volatility(def, &func) == SQL_VOL_STABLE) {
			lint_report(ctx, st, lint_location(def),
				    "add the column without a default, SET DEFAULT in a second statement, "
				    "and backfill old rows in batches",
				    "on PostgreSQL %d, ADD COLUMN \"%s\" with a DEFAULT rewrites \"%s\" under "
				    "an ACCESS EXCLUSIVE lock (defaults without a rewrite arrived in 11)",
				    ctx->pg_version, cd->colname, a->relation->relname);
		}
	}
}

static void check_set_logged(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);
		bool logged;

		if (!c || (c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_SetLogged &&
			   c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_SetUnLogged) ||
		    lint_table_is_new(ctx, a->relation))
			continue;
		logged = c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_SetLogged;
		lint_report(ctx, st, lint_cmd_location(st, i),
			    "create the table with the persistence it needs, or switch it in a "
			    "maintenance window",
			    "SET %s rewrites \"%s\"%s under an ACCESS EXCLUSIVE lock, blocking reads and "
			    "writes%s",
			    logged ? "LOGGED" : "UNLOGGED", a->relation->relname,
			    logged ? " into the WAL" : "",
			    logged ? "" : "; afterwards its data is lost on a crash and not replicated");
	}
}

static void check_set_tablespace(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a;

	if (st->node->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_MOVE_ALL_STMT) {
		lint_report(ctx, st, -1,
			    "move tables one at a time online with pg_repack --tablespace",
			    "ALTER ... ALL IN TABLESPACE \"%s\" copies every matching relation under "
			    "ACCESS EXCLUSIVE locks, blocking reads and writes to each while it is copied",
			    st->node->alter_table_move_all_stmt->orig_tablespacename);
		return;
	}
	a = lint_alter_table(st);
	for (size_t i = 0; a && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);
		char name[LINT_NAME_MAX];

		if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_SetTableSpace ||
		    lint_table_is_new(ctx, a->relation))
			continue;
		lint_report(ctx, st, lint_cmd_location(st, i),
			    a->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX
				    ? "CREATE INDEX CONCURRENTLY a copy in the new tablespace and DROP "
				      "INDEX CONCURRENTLY the old one"
				    : "move the table online with pg_repack --tablespace",
			    "SET TABLESPACE copies \"%s\" under an ACCESS EXCLUSIVE lock, blocking reads "
			    "and writes for the whole copy",
			    lint_rv_name(a->relation, name));
	}
}

static void check_detach_partition(struct pgphase_lint_ctx *ctx,
				   const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);
		const PgQuery__PartitionCmd *p;
		char part[LINT_NAME_MAX];

		if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition || !c->def ||
		    c->def->node_case != PG_QUERY__NODE__NODE_PARTITION_CMD)
			continue;
		p = c->def->partition_cmd;
		lint_rv_name(p->name, part);
		if (p->concurrent && ctx->pg_version < 14)
			lint_report(ctx, st, lint_cmd_location(st, i),
				    "detach without CONCURRENTLY at a quiet moment, under a short "
				    "lock_timeout",
				    "DETACH PARTITION ... CONCURRENTLY needs PostgreSQL 14; on PostgreSQL "
				    "%d it is a syntax error", ctx->pg_version);
		else if (!p->concurrent && !lint_table_is_new(ctx, a->relation))
			lint_report(ctx, st, lint_cmd_location(st, i),
				    ctx->pg_version >= 14
					    ? "use DETACH PARTITION ... CONCURRENTLY (outside a transaction "
					      "block)"
					    : "PostgreSQL before 14 has no DETACH ... CONCURRENTLY: detach at a "
					      "quiet moment under a short lock_timeout",
				    "DETACH PARTITION \"%s\" takes an ACCESS EXCLUSIVE lock on \"%s\", "
				    "blocking reads and writes to every partition, and its rows vanish "
				    "from the parent for the running app",
				    part, a->relation->relname);
	}
}

/* Is every partition key column of parent covered by a validated CHECK on child? */
static bool bound_proven(const struct pgphase_lint_ctx *ctx, const char *parent, const char *child)
{
	size_t n = 0;
	PgQuery__Node *const *key = lint_partition_key(ctx, parent, &n);

	if (!key)
		return lint_column_checked(ctx, child, NULL);
	for (size_t i = 0; i < n; i++) {
		const PgQuery__Node *e = key[i];

		if (e->node_case != PG_QUERY__NODE__NODE_PARTITION_ELEM || !e->partition_elem->name ||
		    !e->partition_elem->name[0] || !lint_column_checked(ctx, child, e->partition_elem->name))
			return false;
	}
	return true;
}

static void check_attach_partition(struct pgphase_lint_ctx *ctx,
				   const struct pgphase_lint_stmt *st)
{
	const PgQuery__AlterTableStmt *a = st->node->alter_table_stmt;

	for (size_t i = 0; a->relation && i < a->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = lint_cmd(a, i);
		const PgQuery__RangeVar *child;

		if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AttachPartition || !c->def ||
		    c->def->node_case != PG_QUERY__NODE__NODE_PARTITION_CMD)
			continue;
		child = c->def->partition_cmd->name;
		/* a partition created in this migration is empty: the scan is instant */
		if (!child || lint_table_is_new(ctx, child) ||
		    bound_proven(ctx, a->relation->relname, child->relname))
			continue;
		lint_report(ctx, st, child->location,
			    "first ADD a CHECK matching the partition bound to it NOT VALID and VALIDATE "
			    "it in a later transaction; ATTACH then skips the scan (drop the CHECK after)",
			    "ATTACH PARTITION \"%s\" scans the whole partition to prove its rows fit the "
			    "bound while holding an ACCESS EXCLUSIVE lock on it%s",
			    child->relname,
			    ctx->pg_version >= 12 ? " (and SHARE UPDATE EXCLUSIVE on the parent)"
						  : " and on the parent, blocking all its partitions");
	}
}

/* ---- enum-value-ordering ---- */

struct enum_use {
	const struct pgphase_lint_ctx *ctx;
	const char *value;
	int location;
};

static enum sql_walk_next find_new_value(ProtobufCMessage *msg, ProtobufCMessage **slot,
					  void *arg)
{
	struct enum_use *u = arg;
	const PgQuery__AConst *k;

	(void)slot;
	if (msg->descriptor != &pg_query__a__const__descriptor)
		return SQL_WALK_CONTINUE;
	k = (const PgQuery__AConst *)msg;
	if (k->val_case != PG_QUERY__A__CONST__VAL_SVAL || !k->sval ||
	    !lint_enum_value_added_here(u->ctx, k->sval->sval))
		return SQL_WALK_CONTINUE;
	u->value = k->sval->sval;
	u->location = k->location;
	return SQL_WALK_STOP;
}

static void check_enum_value(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__Node *n = st->node;
	struct enum_use use = { ctx, NULL, -1 };

	if (n->node_case == PG_QUERY__NODE__NODE_ALTER_ENUM_STMT && !st->down &&
	    (!n->alter_enum_stmt->old_val || !n->alter_enum_stmt->old_val[0]) &&
	    ctx->pg_version < 12 && (ctx->in_txn_block || (!ctx->raw && !ctx->no_transaction))) {
		lint_report(ctx, st, -1,
			    "put it in its own migration marked -- pgphase:no-transaction",
			    "ALTER TYPE ... ADD VALUE cannot run inside a transaction block before "
			    "PostgreSQL 12, and this migration runs in one");
		return;
	}
	/* cheap gate: only walk statements when a value was added in this transaction */
	if (ctx->enum_txn != ctx->txn || n->node_case == PG_QUERY__NODE__NODE_ALTER_ENUM_STMT)
		return;
	if (sql_tree_walk(&n->base, 0, find_new_value, &use))
		return;
	lint_report(ctx, st, use.location,
		    "add the value in an earlier migration (or a -- pgphase:no-transaction one) and "
		    "use it once that has committed",
		    "enum value '%s' is used in the transaction that added it: PostgreSQL refuses it "
		    "(\"unsafe use of new value\") until the ADD VALUE commits", use.value);
}

#define ALTER PG_QUERY__NODE__NODE_ALTER_TABLE_STMT

const struct pgphase_lint_rule lint_rule_add_column_volatile_default = {
	.id = "add-column-volatile-default", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_BLOCKING,
	.summary = "ADD COLUMN with a volatile DEFAULT rewrites the table",
	.node = ALTER, .check = check_volatile_default,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_add_column_rewrite = {
	.id = "add-column-rewrite", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "ADD COLUMN serial / identity / stored generated (any DEFAULT before 11) rewrites",
	.node = ALTER, .check = check_add_column_rewrite,
};
const struct pgphase_lint_rule lint_rule_set_logged = {
	.id = "set-logged", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "SET LOGGED / UNLOGGED rewrites the table",
	.node = ALTER, .check = check_set_logged,
};
const struct pgphase_lint_rule lint_rule_set_tablespace = {
	.id = "set-tablespace", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "SET TABLESPACE copies the relation under ACCESS EXCLUSIVE",
	.check = check_set_tablespace,
};
const struct pgphase_lint_rule lint_rule_detach_partition = {
	.id = "detach-partition", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "DETACH PARTITION without CONCURRENTLY (or CONCURRENTLY before 14)",
	.node = ALTER, .check = check_detach_partition,
};
const struct pgphase_lint_rule lint_rule_attach_partition = {
	.id = "attach-partition", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "ATTACH PARTITION without a validated CHECK matching the bound",
	.node = ALTER, .check = check_attach_partition,
};
const struct pgphase_lint_rule lint_rule_enum_value_ordering = {
	.id = "enum-value-ordering", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "enum value used in the transaction that added it (or ADD VALUE in one before 12)",
	.check = check_enum_value,
};
