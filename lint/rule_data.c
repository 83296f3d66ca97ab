/*
 * Data changes in migrations: UPDATE / DELETE without WHERE, data changes that run as one
 * big statement instead of pgphase's batched backfill, backfills that cannot tell done rows
 * from pending ones, and a column assigned twice (which PostgreSQL rejects).  Tables created
 * earlier in the same migration are empty and unused, so changes to them are not reported.
 */
#include <string.h>

#include "lint.h"
#include "pgphase/backfill.h"

static void check_update_without_where(struct pgphase_lint_ctx *ctx,
				       const struct pgphase_lint_stmt *st)
{
	const PgQuery__UpdateStmt *u = st->node->update_stmt;
	char name[LINT_NAME_MAX];

	if (u->where_clause || lint_table_is_new(ctx, u->relation))
		return;
	lint_report(ctx, st, -1,
		    "add a WHERE that selects only the rows still to change (e.g. WHERE new_col IS "
		    "NULL) and put it under -- BACKFILL so pgphase runs it in small batches",
		    "UPDATE \"%s\" without WHERE rewrites every row in one transaction: it holds a "
		    "row lock on the whole table until commit, blocking the app's writes, and "
		    "leaves a dead copy of every row",
		    lint_rv_name(u->relation, name));
}

static void check_delete_without_where(struct pgphase_lint_ctx *ctx,
				       const struct pgphase_lint_stmt *st)
{
	const PgQuery__DeleteStmt *d = st->node->delete_stmt;
	char name[LINT_NAME_MAX];

	if (d->where_clause || lint_table_is_new(ctx, d->relation))
		return;
	lint_report(ctx, st, -1,
		    "add a WHERE for the rows to remove; to empty a table on purpose, delete in "
		    "batches under -- BACKFILL or truncate by hand after a backup",
		    "DELETE FROM \"%s\" without WHERE deletes every row in one transaction, holding "
		    "row locks on all of them until commit",
		    lint_rv_name(d->relation, name));
}

static void check_unbatched(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	/* the table an UPDATE or DELETE changes, or the one an INSERT ... SELECT copies from */
	const PgQuery__RangeVar *rv = pgphase_backfill_source(st->node);
	char name[LINT_NAME_MAX];

	if (!rv || st->down || st->phase == PGPHASE_PHASE_BACKFILL || lint_table_is_new(ctx, rv))
		return;
	if (st->node->node_case == PG_QUERY__NODE__NODE_INSERT_STMT) {
		lint_report(ctx, st, -1,
			    ctx->raw ? "copy in batches over the source's key (WHERE id > last_id "
				       "ORDER BY id LIMIT n), committing each"
				     : "put it under -- BACKFILL: pgphase copies in throttled, resumable "
				       "batches over the source table's key",
			    "INSERT ... SELECT from existing table \"%s\" copies every row in one "
			    "statement: the new rows stay locked until the migration commits, the long "
			    "transaction holds back vacuum, and replicas fall behind",
			    lint_rv_name(rv, name));
		return;
	}
	lint_report(ctx, st, -1,
		    ctx->raw ? "run it in batches of a few thousand rows (WHERE id > last_id ORDER "
			       "BY id LIMIT n), committing each"
			     : "put it under -- BACKFILL: pgphase runs it in throttled, resumable "
			       "batches that skip rows the app holds locked",
		    "%s of existing table \"%s\" runs as one statement: every matching row stays "
		    "locked until the migration commits, blocking the app's writes to them, and "
		    "replicas fall behind",
		    st->node->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT ? "UPDATE" : "DELETE",
		    lint_rv_name(rv, name));
}

/* Does the WHERE clause mention any column the UPDATE sets? */
static bool where_tracks_progress(const PgQuery__UpdateStmt *u)
{
	for (size_t i = 0; u->where_clause && i < u->n_target_list; i++) {
		const PgQuery__Node *t = u->target_list[i];

		if (t->node_case == PG_QUERY__NODE__NODE_RES_TARGET && t->res_target->name &&
		    lint_expr_mentions(u->where_clause, t->res_target->name))
			return true;
	}
	return false;
}

/* A backfill INSERT ... SELECT: the engine's own check says whether it can run in batches. */
static void check_backfill_insert(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	struct pgphase_backfill_spec spec = { .stmt = st->node };
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	const PgQuery__RangeVar *src = pgphase_backfill_source(st->node);

	if (!src || lint_table_is_new(ctx, src))
		return;
	if (pgphase_backfill_check(&spec, &err) < 0)
		lint_report(ctx, st, -1,
			    err.hint ? err.hint : "make the statement tell copied rows from pending ones",
			    "%s", err.message);
	pgphase_error_release(&err);
}

static void check_backfill_idempotent(struct pgphase_lint_ctx *ctx,
				      const struct pgphase_lint_stmt *st)
{
	const PgQuery__UpdateStmt *u;
	char name[LINT_NAME_MAX];

	if (st->phase != PGPHASE_PHASE_BACKFILL || st->down)
		return;
	if (st->node->node_case == PG_QUERY__NODE__NODE_INSERT_STMT) {
		check_backfill_insert(ctx, st);
		return;
	}
	if (st->node->node_case != PG_QUERY__NODE__NODE_UPDATE_STMT)
		return;
	u = st->node->update_stmt;
	if (where_tracks_progress(u))
		return;
	lint_report(ctx, st, lint_first_location(u->where_clause),
		    "add a predicate on a column being set, e.g. WHERE new_col IS NULL or WHERE "
		    "new_col IS DISTINCT FROM <new value>",
		    "backfill UPDATE of \"%s\" %s: batches cannot tell done rows from pending ones, "
		    "so a resumed run redoes finished work and never sees the end",
		    lint_rv_name(u->relation, name),
		    u->where_clause ? "has a WHERE that does not mention the columns it sets"
				    : "has no WHERE");
}

/* Report the second occurrence of a name in a list of names with their locations. */
static void report_duplicates(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
			      const char *const *names, const int *locs, size_t n, const char *what)
{
	for (size_t i = 1; i < n; i++) {
		if (!names[i])
			continue;
		for (size_t k = 0; k < i; k++)
			if (names[k] && strcmp(names[k], names[i]) == 0) {
				lint_report(ctx, st, locs[i], "remove one of them",
					    "column \"%s\" appears twice in %s; PostgreSQL rejects the "
					    "statement", names[i], what);
				break;
			}
	}
}

#define MAX_COLS 256

static void check_duplicate_assignment(struct pgphase_lint_ctx *ctx,
				       const struct pgphase_lint_stmt *st)
{
	const PgQuery__Node *n = st->node;
	const char *names[MAX_COLS];
	int locs[MAX_COLS];
	size_t k = 0;

	if (n->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT) {
		for (size_t i = 0; i < n->update_stmt->n_target_list && k < MAX_COLS; i++) {
			const PgQuery__Node *t = n->update_stmt->target_list[i];

			if (t->node_case != PG_QUERY__NODE__NODE_RES_TARGET)
				continue;
			/* SET a[1] = .., a[2] = .. assigns different elements: allowed */
			names[k] = t->res_target->n_indirection ? NULL : t->res_target->name;
			locs[k++] = t->res_target->location;
		}
		report_duplicates(ctx, st, names, locs, k, "the SET list");
	} else if (n->node_case == PG_QUERY__NODE__NODE_INSERT_STMT) {
		for (size_t i = 0; i < n->insert_stmt->n_cols && k < MAX_COLS; i++) {
			const PgQuery__Node *t = n->insert_stmt->cols[i];

			if (t->node_case != PG_QUERY__NODE__NODE_RES_TARGET)
				continue;
			names[k] = t->res_target->n_indirection ? NULL : t->res_target->name;
			locs[k++] = t->res_target->location;
		}
		report_duplicates(ctx, st, names, locs, k, "the INSERT column list");
	} else if (n->node_case == PG_QUERY__NODE__NODE_CREATE_STMT) {
		for (size_t i = 0; i < n->create_stmt->n_table_elts && k < MAX_COLS; i++) {
			const PgQuery__Node *e = n->create_stmt->table_elts[i];

			if (e->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
				continue;
			names[k] = e->column_def->colname;
			locs[k++] = e->column_def->location;
		}
		report_duplicates(ctx, st, names, locs, k, "CREATE TABLE");
	} else if (n->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT) {
		const PgQuery__AlterTableStmt *a = n->alter_table_stmt;

		for (size_t i = 0; i < a->n_cmds && k < MAX_COLS; i++) {
			const PgQuery__AlterTableCmd *c = lint_cmd(a, i);

			if (!c || c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn || !c->def ||
			    c->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
				continue;
			names[k] = c->def->column_def->colname;
			locs[k++] = c->def->column_def->location;
		}
		report_duplicates(ctx, st, names, locs, k, "the ADD COLUMN list");
	}
}

const struct pgphase_lint_rule lint_rule_update_without_where = {
	.id = "update-without-where", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_DESTRUCTIVE,
	.summary = "UPDATE without WHERE rewrites every row of an existing table",
	.node = PG_QUERY__NODE__NODE_UPDATE_STMT, .check = check_update_without_where,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_delete_without_where = {
	.id = "delete-without-where", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_DESTRUCTIVE,
	.summary = "DELETE without WHERE deletes every row of an existing table",
	.node = PG_QUERY__NODE__NODE_DELETE_STMT, .check = check_delete_without_where,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_unbatched_data_change = {
	.id = "unbatched-data-change", .severity = PGPHASE_LINT_WARNING,
	.category = PGPHASE_LINT_HYGIENE,
	.summary = "UPDATE/DELETE/INSERT ... SELECT of an existing table outside the backfill phase",
	.check = check_unbatched,
	.plannable = true,
};
const struct pgphase_lint_rule lint_rule_backfill_not_idempotent = {
	.id = "backfill-not-idempotent", .severity = PGPHASE_LINT_WARNING,
	.category = PGPHASE_LINT_HYGIENE,
	.summary = "backfill UPDATE or INSERT ... SELECT that cannot tell done rows from pending ones",
	.check = check_backfill_idempotent,
};
const struct pgphase_lint_rule lint_rule_duplicate_column_assignment = {
	.id = "duplicate-column-assignment", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_HYGIENE,
	.summary = "a column assigned or declared twice in one statement",
	.check = check_duplicate_assignment,
};
