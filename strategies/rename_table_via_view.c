/*
 * rename-table-via-view: ALTER TABLE a RENAME TO b breaks the old app, which still says a.
 * Expand renames the table and creates a view a over b in the same transaction; a simple
 * view is updatable, so the old app keeps reading and writing through it.  Contract drops the
 * view.  Undo (rollback before contract) drops the view and renames the table back.
 *
 * The old app keeps its rights and its row-level security through the view: on PostgreSQL
 * 15 and later the view is created WITH (security_invoker = true), so the base table's
 * privileges and policies are checked as the querying role (not as the view's owner, who
 * would bypass RLS), and the table's grants (read from the catalog at plan time) are given
 * on the view too.  ALTER TABLE IF EXISTS runs as written (the table may not exist).
 */
#include <string.h>

#include "base/db.h"
#include "strategy.h"

static const char *const SQL_EXPAND = "ALTER TABLE %s RENAME TO %s; CREATE VIEW %s%s AS SELECT * FROM %s";
static const char *const SQL_INVOKER = " WITH (security_invoker = true)";
static const char *const SQL_GRANT = "%s; GRANT %s ON %s TO %s%s";

/* The table's grants to roles other than its owner: role (NULL for PUBLIC), privilege,
 * grantable.  $1 the table, qualified. */
static const char *const SQL_TABLE_GRANTS =
	"SELECT (SELECT rolname FROM pg_roles WHERE oid = a.grantee), a.privilege_type,"
	"       a.is_grantable"
	"  FROM pg_class c, aclexplode(c.relacl) a"
	" WHERE c.oid = to_regclass($1) AND a.grantee <> c.relowner"
	" ORDER BY 1, 2";
static const char *const SQL_UNDO = "DROP VIEW IF EXISTS %s; ALTER TABLE IF EXISTS %s RENAME TO %s";
static const char *const SQL_CONTRACT = "DROP VIEW IF EXISTS %s";

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	(void)ctx;
	return in->node->node_case == PG_QUERY__NODE__NODE_RENAME_STMT &&
	       in->node->rename_stmt->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE &&
	       in->node->rename_stmt->relation && !in->node->rename_stmt->missing_ok;
}

/* "; GRANT ... ON view TO role" for each grant of the table (online; offline none). */
static const char *grants(struct plan_ctx *ctx, const char *table, const char *view)
{
	struct pgphase_session *s = plan_options(ctx)->session;
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	const char *p[1] = { table }, *out = "";
	PGresult *r;

	if (!s)
		return "";
	r = db_query(s, SQL_TABLE_GRANTS, 1, p, PGRES_TUPLES_OK, &e);
	pgphase_error_release(&e);
	for (int i = 0; r && i < PQntuples(r); i++)
		out = arena_printf(plan_arena(ctx), SQL_GRANT, out, PQgetvalue(r, i, 1), view,
				   PQgetisnull(r, i, 0) ? "PUBLIC" : sql_ident(ctx, PQgetvalue(r, i, 0)),
				   strcmp(PQgetvalue(r, i, 2), "t") == 0 ? " WITH GRANT OPTION" : "");
	PQclear(r);
	return out;
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__RenameStmt *r = in->node->rename_stmt;
	PgQuery__RangeVar new_rv = *r->relation;
	char *old_rel = sql_rel(ctx, r->relation), *new_rel, *new_name = sql_ident(ctx, r->newname);
	char *old_name = sql_ident(ctx, r->relation->relname);
	char *expand, *undo = NULL, *contract = NULL;

	new_rv.relname = r->newname; /* RENAME TO keeps the schema */
	new_rel = sql_rel(ctx, &new_rv);
	expand = sql_renderf(ctx, err, "%s%s",
			     arena_printf(plan_arena(ctx), SQL_EXPAND, old_rel, new_name, old_rel,
					  plan_options(ctx)->pg_version >= 15 ? SQL_INVOKER : "",
					  new_rel),
			     grants(ctx, old_rel, old_rel));
	if (expand)
		undo = sql_renderf(ctx, err, SQL_UNDO, old_rel, new_rel, old_name);
	if (undo)
		contract = sql_renderf(ctx, err, SQL_CONTRACT, old_rel);
	if (!contract)
		return -1;
	plan_add(ctx, &strategy_rename_table_via_view, in, PGPHASE_PHASE_EXPAND, PGPHASE_TXN_GROUP,
		 expand, undo);
	plan_add(ctx, &strategy_rename_table_via_view, in, PGPHASE_PHASE_CONTRACT, PGPHASE_TXN_OWN,
		 contract, NULL);
	return 0;
}

/* last step: the rename behind the view */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase_raised(in, PGPHASE_PHASE_CONTRACT);
}

const struct pgphase_strategy strategy_rename_table_via_view = {
	.name = "rename-table-via-view",
	.summary = "RENAME TABLE a TO b: rename plus an updatable view a in expand, view dropped "
		   "in contract",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
