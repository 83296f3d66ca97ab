/*
 * Statements that hold a strong lock for their whole run.  CREATE INDEX, DROP INDEX, REINDEX
 * and REFRESH MATERIALIZED VIEW have a CONCURRENTLY form that does not block the application
 * (REINDEX CONCURRENTLY needs PostgreSQL 12); CONCURRENTLY cannot run inside a transaction
 * block, so an explicit BEGIN ... COMMIT around it is caught too.  VACUUM FULL and CLUSTER
 * rewrite whole tables under ACCESS EXCLUSIVE, and an explicit LOCK TABLE holds a strong
 * lock until the migration's transaction ends.
 */
#include <stdio.h>

#include "lint.h"

static void check_create_index(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__IndexStmt *is = st->node->index_stmt;
	char name[LINT_NAME_MAX];

	if (is->concurrent || lint_table_is_new(ctx, is->relation))
		return;
	lint_report(ctx, st, -1,
		    ctx->raw ? "use CREATE INDEX CONCURRENTLY outside a transaction block; if it fails, "
			       "drop the INVALID index it leaves and retry"
			     : "use CREATE INDEX CONCURRENTLY (pgphase runs it outside a transaction and "
			       "retries after dropping an INVALID leftover)",
		    "CREATE %sINDEX on \"%s\" without CONCURRENTLY takes a SHARE lock that blocks "
		    "INSERT, UPDATE and DELETE on the table for the whole build",
		    is->unique ? "UNIQUE " : "", lint_rv_name(is->relation, name));
}

static void check_drop_index(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__DropStmt *d = st->node->drop_stmt;
	char name[LINT_NAME_MAX];

	if (d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_INDEX || d->concurrent)
		return;
	for (size_t i = 0; i < d->n_objects; i++) {
		const PgQuery__Node *o = d->objects[i];

		if (o->node_case == PG_QUERY__NODE__NODE_LIST &&
		    lint_relname_is_new(ctx, lint_last_name(o->list->items, o->list->n_items)))
			continue;
		lint_report(ctx, st, -1,
			    "use DROP INDEX CONCURRENTLY (one index per statement, outside a "
			    "transaction block)",
			    "DROP INDEX \"%s\" without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on its "
			    "table, blocking all reads and writes while it waits for running queries "
			    "and while it drops",
			    lint_object_name(o, name));
		return;
	}
}

static void check_concurrently_in_txn(struct pgphase_lint_ctx *ctx,
				      const struct pgphase_lint_stmt *st)
{
	if (!ctx->in_txn_block || !pgphase_node_no_transaction(st->node))
		return;
	lint_report(ctx, st, -1,
		    ctx->raw ? "run it outside BEGIN ... COMMIT, in its own file or step"
			     : "remove the BEGIN/COMMIT around it: pgphase runs statements that need it "
			       "outside a transaction",
		    "%s cannot run inside a transaction block, and this one is inside BEGIN ... "
		    "COMMIT: PostgreSQL rejects it",
		    pgphase_node_kind(st->node));
}

/* 'INDEX "name"', 'TABLE "name"', 'SCHEMA "name"', 'DATABASE' for messages. */
static const char *reindex_target(const PgQuery__ReindexStmt *r, char buf[2 * LINT_NAME_MAX])
{
	char name[LINT_NAME_MAX];
	const char *kind = r->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_INDEX ? "INDEX"
			   : r->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_TABLE ? "TABLE"
			   : r->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SCHEMA ? "SCHEMA"
			   : r->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SYSTEM ? "SYSTEM"
											      : "DATABASE";

	if (r->relation)
		snprintf(buf, 2 * LINT_NAME_MAX, "%s \"%s\"", kind, lint_rv_name(r->relation, name));
	else if (r->name && r->name[0])
		snprintf(buf, 2 * LINT_NAME_MAX, "%s \"%s\"", kind, r->name);
	else
		snprintf(buf, 2 * LINT_NAME_MAX, "%s", kind);
	return buf;
}

static void check_reindex(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__ReindexStmt *r = st->node->reindex_stmt;
	bool concurrently = lint_defelem(r->params, r->n_params, "concurrently") != NULL;
	char name[2 * LINT_NAME_MAX];

	if (r->relation && lint_table_is_new(ctx, r->relation))
		return;
	if (concurrently && ctx->pg_version < 12) {
		lint_report(ctx, st, -1,
			    "CREATE INDEX CONCURRENTLY a replacement, DROP INDEX CONCURRENTLY the old "
			    "one, then rename the new one",
			    "REINDEX CONCURRENTLY needs PostgreSQL 12; on PostgreSQL %d it is a syntax "
			    "error", ctx->pg_version);
		return;
	}
	if (concurrently)
		return;
	lint_report(ctx, st, -1,
		    ctx->pg_version >= 12
			    ? "use REINDEX ... CONCURRENTLY (outside a transaction block)"
			    : "PostgreSQL before 12 has no REINDEX CONCURRENTLY: CREATE INDEX "
			      "CONCURRENTLY a replacement, DROP INDEX CONCURRENTLY the old one, then "
			      "rename the new one",
		    "REINDEX %s without CONCURRENTLY locks out writes to the table, and reads "
		    "that use its indexes, for the whole rebuild",
		    reindex_target(r, name));
}

/* "\"t\"" for one relation, "every table in the database" for none. */
static const char *rels_name(PgQuery__Node *const *rels, size_t n, char buf[LINT_NAME_MAX])
{
	if (!n)
		return "every table in the database";
	if (rels[0]->node_case == PG_QUERY__NODE__NODE_VACUUM_RELATION &&
	    rels[0]->vacuum_relation->relation) {
		char name[LINT_NAME_MAX];

		snprintf(buf, LINT_NAME_MAX, "\"%s\"%s",
			 lint_rv_name(rels[0]->vacuum_relation->relation, name), n > 1 ? " and others" : "");
		return buf;
	}
	return "the tables";
}

static void check_vacuum_full(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__VacuumStmt *v = st->node->vacuum_stmt;
	char buf[LINT_NAME_MAX];

	if (!v->is_vacuumcmd || !lint_defelem(v->options, v->n_options, "full"))
		return;
	lint_report(ctx, st, -1,
		    "use plain VACUUM (it does not block reads or writes), or pg_repack / pg_squeeze "
		    "to compact a table online",
		    "VACUUM FULL rewrites %s under an ACCESS EXCLUSIVE lock, blocking reads and writes "
		    "for the whole rewrite", rels_name(v->rels, v->n_rels, buf));
}

static void check_cluster(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__ClusterStmt *c = st->node->cluster_stmt;
	char name[LINT_NAME_MAX], what[LINT_NAME_MAX + 4];

	if (c->relation && lint_table_is_new(ctx, c->relation))
		return;
	if (c->relation)
		snprintf(what, sizeof(what), "\"%s\"", lint_rv_name(c->relation, name));
	else
		snprintf(what, sizeof(what), "every clustered table");
	lint_report(ctx, st, -1,
		    "reorder online with pg_repack --order-by, or leave the physical order alone",
		    "CLUSTER rewrites %s in index order under an ACCESS EXCLUSIVE lock, blocking reads "
		    "and writes for the whole rewrite", what);
}

static const char *lock_mode(int mode, const char **blocks)
{
	static const struct {
		const char *name, *blocks;
	} modes[] = {
		{ "?", "" },
		{ "ACCESS SHARE", "only ACCESS EXCLUSIVE" },
		{ "ROW SHARE", "EXCLUSIVE and ACCESS EXCLUSIVE" },
		{ "ROW EXCLUSIVE", "SHARE and stronger locks (CREATE INDEX, most DDL)" },
		{ "SHARE UPDATE EXCLUSIVE", "VACUUM, ANALYZE, CREATE INDEX CONCURRENTLY and DDL" },
		{ "SHARE", "all INSERT, UPDATE and DELETE" },
		{ "SHARE ROW EXCLUSIVE", "all INSERT, UPDATE and DELETE" },
		{ "EXCLUSIVE", "all writes and SELECT ... FOR UPDATE/SHARE" },
		{ "ACCESS EXCLUSIVE", "every read and write" },
	};

	if (mode < 1 || mode > 8)
		mode = 0;
	*blocks = modes[mode].blocks;
	return modes[mode].name;
}

static void check_lock_table(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__LockStmt *l = st->node->lock_stmt;
	const char *blocks, *mode = lock_mode(l->mode, &blocks);
	char name[LINT_NAME_MAX];

	/* below SHARE no application read or write waits for it */
	if (l->mode < 5 || !l->n_relations || l->relations[0]->node_case != PG_QUERY__NODE__NODE_RANGE_VAR ||
	    lint_table_is_new(ctx, l->relations[0]->range_var))
		return;
	lint_report(ctx, st, -1,
		    "let each statement take only the lock it needs, under lock_timeout (pgphase sets "
		    "one); if you need the lock, keep the transaction short",
		    "LOCK TABLE \"%s\" IN %s MODE blocks %s until the migration's transaction ends",
		    lint_rv_name(l->relations[0]->range_var, name), mode, blocks);
}

static void check_refresh(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	const PgQuery__RefreshMatViewStmt *r = st->node->refresh_mat_view_stmt;
	char name[LINT_NAME_MAX];

	if (r->concurrent || lint_table_is_new(ctx, r->relation))
		return;
	lint_report(ctx, st, -1,
		    "use REFRESH MATERIALIZED VIEW CONCURRENTLY (it needs a unique index on the view)",
		    "REFRESH MATERIALIZED VIEW \"%s\" without CONCURRENTLY takes an ACCESS EXCLUSIVE "
		    "lock, blocking every read of the view until the refresh finishes",
		    lint_rv_name(r->relation, name));
}

const struct pgphase_lint_rule lint_rule_create_index = {
	.id = "create-index", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "CREATE INDEX without CONCURRENTLY blocks writes during the build",
	.node = PG_QUERY__NODE__NODE_INDEX_STMT, .check = check_create_index,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_drop_index = {
	.id = "drop-index", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "DROP INDEX without CONCURRENTLY blocks reads and writes",
	.node = PG_QUERY__NODE__NODE_DROP_STMT, .check = check_drop_index,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_concurrently_in_transaction = {
	.id = "concurrently-in-transaction", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_BLOCKING,
	.summary = "CONCURRENTLY (or another no-transaction statement) inside BEGIN ... COMMIT",
	.check = check_concurrently_in_txn,
};
const struct pgphase_lint_rule lint_rule_reindex = {
	.id = "reindex", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "REINDEX without CONCURRENTLY (or CONCURRENTLY before PostgreSQL 12)",
	.node = PG_QUERY__NODE__NODE_REINDEX_STMT, .check = check_reindex,
};
const struct pgphase_lint_rule lint_rule_vacuum_full = {
	.id = "vacuum-full", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "VACUUM FULL rewrites tables under ACCESS EXCLUSIVE",
	.node = PG_QUERY__NODE__NODE_VACUUM_STMT, .check = check_vacuum_full,
};
const struct pgphase_lint_rule lint_rule_cluster = {
	.id = "cluster", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_BLOCKING,
	.summary = "CLUSTER rewrites the table under ACCESS EXCLUSIVE",
	.node = PG_QUERY__NODE__NODE_CLUSTER_STMT, .check = check_cluster,
};
const struct pgphase_lint_rule lint_rule_lock_table = {
	.id = "lock-table", .severity = PGPHASE_LINT_WARNING, .category = PGPHASE_LINT_BLOCKING,
	.summary = "explicit LOCK TABLE in SHARE mode or stronger",
	.node = PG_QUERY__NODE__NODE_LOCK_STMT, .check = check_lock_table,
};
const struct pgphase_lint_rule lint_rule_refresh_materialized_view = {
	.id = "refresh-materialized-view", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_BLOCKING,
	.summary = "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks readers",
	.node = PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT, .check = check_refresh,
};
