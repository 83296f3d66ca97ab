/*
 * The inverse of a migration that is not complete: which of its steps ran (the state row's
 * phase and resume point), and the undo statements that take the database back to where it
 * was before the migration, newest first.  A DOWN section is written for the complete
 * migration and never runs here.
 *
 * A step that ran is undone by its undo_sql (every pgphase step that adds something has one:
 * DROP ... IF EXISTS, indexes dropped CONCURRENTLY), or needs none:
 *   - pgphase's own checks and validations (NULL counts, VALIDATE of a constraint its undo
 *     drops) and fills of what its own expand step added (a new column, a shadow column);
 *   - a statement whose whole effect lives on a table, or an UPDATE whose SET columns all
 *     live on columns, that an undo of an earlier step of the migration drops (the new column
 *     of a RENAME keeps the old one in step through a trigger, so it does not count);
 *   - SET / RESET.
 * The step at the resume point may have started when it runs outside a transaction: an
 * index build is undone (IF EXISTS); an as-written CREATE INDEX CONCURRENTLY only when its
 * index is there and INVALID (a valid one of that name was there before); other statements
 * run alone are atomic and left nothing.
 *
 * An UPDATE or DELETE the planner moved to the backfill engine (data-change-to-backfill) is
 * undone by putting back the old values its batches recorded (run_restore.c), before the
 * undo of any expand step.
 *
 * Everything else is refused (exit 2, nothing changed) with the step and the way out: a data
 * change run as written on rows or columns that existed before (no old values kept), a
 * statement it cannot invert, a contract phase that has begun (it dropped what the old app
 * used).  Finishing the migration and then rolling back runs the DOWN section.
 *
 * Not here: running the undo statements and the DOWN section (run_rollback.c).
 */
#include <stdlib.h>
#include <string.h>

#include "base/db.h"
#include "base/util.h"
#include "run/run.h"
#include "sql/tree.h"

/* A table ("column" NULL) or a column an undo drops; schema "" when unqualified. */
struct dropped {
	const char *schema, *table, *column;
};

struct cover {
	struct dropped *v;
	size_t n, cap;
	struct pgphase_sql *undos; /* parsed undo statements, kept while v points into them */
	size_t n_undos;
};

static void cover_push(struct cover *c, const char *schema, const char *table, const char *column)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->n++] = (struct dropped){ schema ? schema : "", table, column };
}

static bool cover_has(const struct cover *c, const char *schema, const char *table,
		      const char *column)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct dropped *d = &c->v[i];

		if (strcmp(d->schema, schema ? schema : "") != 0 || strcmp(d->table, table) != 0)
			continue;
		if (!d->column || (column && strcmp(d->column, column) == 0))
			return true;
	}
	return false;
}

static bool rv_dropped(const struct cover *c, const PgQuery__RangeVar *rv)
{
	return rv && cover_has(c, rv->schemaname, rv->relname, NULL);
}

/* Note what the undo statements of st drop: tables, and columns unless st is a rename's. */
static int cover_add(struct cover *c, const struct pgphase_step *st, struct pgphase_error *err)
{
	struct pgphase_sql *sql;
	bool columns = !st->strategy || strcmp(st->strategy, "rename-column-via-sync-trigger") != 0;

	c->undos = xrealloc(c->undos, (c->n_undos + 1) * sizeof(*c->undos));
	sql = &c->undos[c->n_undos];
	if (pgphase_sql_parse(sql, st->undo_sql, st->file, err) < 0)
		return -1;
	c->n_undos++;
	for (size_t i = 0; i < sql->n; i++) {
		const PgQuery__Node *n = sql->stmts[i].node;

		if (n->node_case == PG_QUERY__NODE__NODE_DROP_STMT &&
		    n->drop_stmt->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
			for (size_t k = 0; k < n->drop_stmt->n_objects; k++) {
				const PgQuery__Node *o = n->drop_stmt->objects[k];
				const PgQuery__List *l = o->node_case == PG_QUERY__NODE__NODE_LIST ? o->list : NULL;

				if (l && l->n_items == 2)
					cover_push(c, l->items[0]->string->sval, l->items[1]->string->sval, NULL);
				else if (l && l->n_items == 1)
					cover_push(c, NULL, l->items[0]->string->sval, NULL);
			}
		} else if (columns && n->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT) {
			const PgQuery__AlterTableStmt *at = n->alter_table_stmt;

			for (size_t k = 0; k < at->n_cmds; k++) {
				const PgQuery__AlterTableCmd *cmd = at->cmds[k]->alter_table_cmd;

				if (cmd && cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn)
					cover_push(c, at->relation->schemaname, at->relation->relname,
						   cmd->name);
			}
		}
	}
	return 0;
}

static void cover_release(struct cover *c)
{
	for (size_t i = 0; i < c->n_undos; i++)
		pgphase_sql_release(&c->undos[i]);
	free(c->undos);
	free(c->v);
}

/* COMMENT ON TABLE / COLUMN of a dropped table or column. */
static bool comment_covered(const struct cover *c, const PgQuery__CommentStmt *cs)
{
	const PgQuery__List *l = cs->object && cs->object->node_case == PG_QUERY__NODE__NODE_LIST
		? cs->object->list : NULL;
	const char *name[3] = { NULL, NULL, NULL };
	size_t n = l ? l->n_items : 0, want;

	if (cs->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
		want = 1;
	else if (cs->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN)
		want = 2;
	else
		return false;
	if (n < want || n > want + 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (l->items[i]->node_case != PG_QUERY__NODE__NODE_STRING)
			return false;
		name[i + (want + 1 - n)] = l->items[i]->string->sval;
	}
	return cover_has(c, name[0], name[1], want == 2 ? name[2] : NULL);
}

/* Is the whole effect of statement n gone once the tables and columns of c are dropped? */
static bool stmt_covered(const struct cover *c, const PgQuery__Node *n)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
		return true; /* SET / RESET: nothing in the schema */
	case PG_QUERY__NODE__NODE_UPDATE_STMT: {
		const PgQuery__UpdateStmt *u = n->update_stmt;

		if (rv_dropped(c, u->relation))
			return true;
		if (u->n_target_list == 0)
			return false;
		for (size_t i = 0; i < u->n_target_list; i++) {
			const PgQuery__ResTarget *t = u->target_list[i]->res_target;

			if (!t || !cover_has(c, u->relation->schemaname, u->relation->relname, t->name))
				return false;
		}
		return true;
	}
	case PG_QUERY__NODE__NODE_INSERT_STMT:
		return rv_dropped(c, n->insert_stmt->relation);
	case PG_QUERY__NODE__NODE_DELETE_STMT:
		return rv_dropped(c, n->delete_stmt->relation);
	/* what these add hangs on their table and goes with it */
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		return n->alter_table_stmt->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE &&
		       rv_dropped(c, n->alter_table_stmt->relation);
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		return rv_dropped(c, n->index_stmt->relation);
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
		return rv_dropped(c, n->create_trig_stmt->relation);
	case PG_QUERY__NODE__NODE_CREATE_POLICY_STMT:
		return rv_dropped(c, n->create_policy_stmt->table);
	case PG_QUERY__NODE__NODE_RULE_STMT:
		return rv_dropped(c, n->rule_stmt->relation);
	case PG_QUERY__NODE__NODE_COMMENT_STMT:
		return comment_covered(c, n->comment_stmt);
	case PG_QUERY__NODE__NODE_GRANT_STMT: {
		const PgQuery__GrantStmt *g = n->grant_stmt;

		if (g->targtype != PG_QUERY__GRANT_TARGET_TYPE__ACL_TARGET_OBJECT ||
		    g->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || g->n_objects == 0)
			return false;
		for (size_t i = 0; i < g->n_objects; i++)
			if (g->objects[i]->node_case != PG_QUERY__NODE__NODE_RANGE_VAR ||
			    !rv_dropped(c, g->objects[i]->range_var))
				return false;
		return true;
	}
	default:
		return false;
	}
}

/* Every statement of text covered?  false when it does not parse. */
static bool text_covered(const struct cover *c, const char *text)
{
	struct pgphase_sql sql;
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	bool ok;

	if (!text || pgphase_sql_parse(&sql, text, NULL, &e) < 0) {
		pgphase_error_release(&e);
		return false;
	}
	ok = sql.n > 0;
	for (size_t i = 0; ok && i < sql.n; i++)
		ok = stmt_covered(c, sql.stmts[i].node);
	pgphase_sql_release(&sql);
	return ok;
}

/* Is text exactly one statement of the kind (CREATE INDEX CONCURRENTLY, DROP ... CONCURRENTLY)? */
static const PgQuery__Node *only_stmt(struct pgphase_sql *sql, const char *text)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;

	if (pgphase_sql_parse(sql, text, NULL, &e) < 0) {
		pgphase_error_release(&e);
		return NULL;
	}
	if (sql->n == 1)
		return sql->stmts[0].node;
	pgphase_sql_release(&sql[0]);
	return NULL;
}

/* Did the step at the resume point leave something although it failed or was stopped? */
enum started {
	STARTED_NOTHING,       /* atomic, rolled back */
	STARTED_UNDO,          /* undo it (IF EXISTS) */
	STARTED_UNDO_IF_INVALID, /* undo it when its index is there and INVALID */
	STARTED_UNKNOWN,       /* it may have changed what pgphase cannot restore */
};

static enum started possibly_started(const struct pgphase_step *st, struct pgphase_sql *keep,
				     bool *kept)
{
	const PgQuery__Node *n;

	*kept = false;
	if (st->kind == PGPHASE_STEP_INDEX)
		return STARTED_UNDO;
	if (st->kind == PGPHASE_STEP_CHECK_NULLS)
		return STARTED_NOTHING;
	if (st->kind == PGPHASE_STEP_BACKFILL)
		return STARTED_UNKNOWN; /* batches committed: classified like a step that ran */
	n = only_stmt(keep, st->sql);
	if (!n)
		return STARTED_UNKNOWN;
	*kept = true;
	if (n->node_case == PG_QUERY__NODE__NODE_INDEX_STMT && n->index_stmt->concurrent)
		return st->undo_sql ? STARTED_UNDO_IF_INVALID : STARTED_UNKNOWN;
	if ((n->node_case == PG_QUERY__NODE__NODE_DROP_STMT && n->drop_stmt->concurrent) ||
	    (n->node_case == PG_QUERY__NODE__NODE_REINDEX_STMT))
		return STARTED_UNKNOWN; /* may have left an index INVALID or a copy behind */
	return STARTED_NOTHING;
}

/* Steps of phase p that committed, and whether the next one may have started. */
static size_t phase_done(const struct pgphase_plan *plan, const struct pgphase_state_row *row,
			 enum pgphase_phase p, const struct pgphase_step **started)
{
	size_t n = pgphase_plan_count(plan, p), seen = 0;

	*started = NULL;
	if ((int)row->state >= (int)p)
		return n;
	if (row->current_phase != p)
		return 0;
	for (size_t i = 0; i < plan->n; i++) {
		const struct pgphase_step *st = &plan->steps[i];

		if (st->phase != p || seen++ != (size_t)row->next_step)
			continue;
		/* a transaction that failed left nothing; a step run alone may have started */
		if (st->txn == PGPHASE_TXN_NONE || st->kind != PGPHASE_STEP_SQL)
			*started = st;
	}
	return (size_t)row->next_step < n ? (size_t)row->next_step : n;
}

static const char *state_words(const struct pgphase_state_row *row)
{
	if (row->current_phase == PGPHASE_PHASE_NONE)
		return pgphase_mstate_name(row->state);
	return row->current_phase == PGPHASE_PHASE_EXPAND   ? "stopped in expand"
	       : row->current_phase == PGPHASE_PHASE_BACKFILL ? "stopped in backfill"
							    : "stopped in contract";
}

static int refuse(const struct pgphase_migration *m, const struct pgphase_state_row *row,
		  const struct pgphase_step *st, const char *why, struct pgphase_error *err)
{
	pgphase_error_at(err, PGPHASE_EXIT_USAGE, "cannot-undo", st->file, st->line, st->column,
			 "cannot roll back %s (%s): %s", m->file, state_words(row), why);
	pgphase_error_detail(err, "step (%s): %s", pgphase_phase_name(st->phase),
			     st->kind == PGPHASE_STEP_BACKFILL && st->dml ? st->dml : st->sql);
	pgphase_error_hint(err, "nothing was rolled back; its DOWN section is written for the "
				"complete migration: finish it (pgphase migrate --to %s), then "
				"pgphase rollback runs the DOWN section",
			   m->version_text ? m->version_text : "V");
	return -1;
}

static void undo_push(struct run_undo *u, const struct pgphase_step *st, bool if_invalid)
{
	u->items = xrealloc(u->items, (u->n + 1) * sizeof(*u->items));
	u->items[u->n++] = (struct run_undo_item){ st, if_invalid, false, -1 };
}

/* The user's UPDATE or DELETE run by the backfill engine, which keeps its old values. */
static bool restorable(const struct pgphase_step *st)
{
	struct pgphase_sql one;
	const PgQuery__Node *n;
	bool ok;

	if (st->kind != PGPHASE_STEP_BACKFILL || !st->dml || !st->strategy ||
	    strcmp(st->strategy, "data-change-to-backfill") != 0)
		return false;
	n = only_stmt(&one, st->dml);
	if (!n)
		return false;
	ok = n->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT ||
	     n->node_case == PG_QUERY__NODE__NODE_DELETE_STMT;
	pgphase_sql_release(&one);
	return ok;
}

/* A step without undo that ran: is what it did gone with the undos of the steps before? */
static bool ran_covered(const struct cover *c, const struct pgphase_step *st)
{
	bool ours = st->strategy && strcmp(st->strategy, "as-written") != 0 &&
		    strcmp(st->strategy, "data-change-to-backfill") != 0;

	if (st->kind == PGPHASE_STEP_CHECK_NULLS)
		return true;
	/* pgphase's own steps without undo: validations of what its undo drops, fills of the
	   columns its expand added */
	if (ours && st->phase != PGPHASE_PHASE_CONTRACT)
		return true;
	return text_covered(c, st->kind == PGPHASE_STEP_BACKFILL ? st->dml : st->sql);
}

int run_undo_plan(const struct pgphase_migration *m, const struct pgphase_plan *plan,
		  const struct pgphase_state_row *row, struct run_undo *u, struct pgphase_error *err)
{
	struct cover c = { 0 };
	const struct pgphase_step *started[4] = { NULL };
	size_t done[4] = { 0 }, seen[4] = { 0 };
	int rc = -1;

	memset(u, 0, sizeof(*u));
	for (int p = PGPHASE_PHASE_EXPAND; p <= PGPHASE_PHASE_CONTRACT; p++)
		done[p] = phase_done(plan, row, (enum pgphase_phase)p, &started[p]);
	for (size_t i = 0; i < plan->n; i++) {
		const struct pgphase_step *st = &plan->steps[i];
		size_t k = seen[st->phase]++;
		bool ran = k < done[st->phase];

		if (!ran && st != started[st->phase])
			continue;
		if (st->phase == PGPHASE_PHASE_CONTRACT) {
			struct pgphase_sql one;
			bool kept;

			/* a contract step that failed and left nothing (a NULL count) is no change */
			if (!ran && possibly_started(st, &one, &kept) == STARTED_NOTHING) {
				if (kept)
					pgphase_sql_release(&one);
				continue;
			}
			if (!ran && kept)
				pgphase_sql_release(&one);
			refuse(m, row, st, "its contract phase has begun and may have dropped or changed "
			       "what the old schema had", err);
			goto out;
		}
		if (!ran) {
			struct pgphase_sql one;
			bool kept;
			enum started how = possibly_started(st, &one, &kept);

			if (kept)
				pgphase_sql_release(&one);
			if (how == STARTED_UNDO || how == STARTED_UNDO_IF_INVALID) {
				undo_push(u, st, how == STARTED_UNDO_IF_INVALID);
				continue;
			}
			if (how == STARTED_NOTHING)
				continue;
			/* a backfill that committed batches: judged like one that finished */
			if (st->kind != PGPHASE_STEP_BACKFILL) {
				refuse(m, row, st, "this step was stopped part way and may have left "
				       "changes pgphase cannot undo", err);
				goto out;
			}
		}
		if (st->undo_sql && st->kind != PGPHASE_STEP_BACKFILL) {
			if (cover_add(&c, st, err) < 0)
				goto out;
			undo_push(u, st, false);
			continue;
		}
		if (!ran_covered(&c, st) && restorable(st)) {
			/* the old values its batches recorded are put back (run_restore.c) */
			u->items = xrealloc(u->items, (u->n + 1) * sizeof(*u->items));
			u->items[u->n++] = (struct run_undo_item){ st, false, true, (int)i };
			continue;
		}
		if (!ran_covered(&c, st)) {
			refuse(m, row, st, st->kind == PGPHASE_STEP_BACKFILL ||
			       st->phase == PGPHASE_PHASE_BACKFILL
			       ? "its data change ran on rows or columns that existed before, and "
				 "pgphase keeps no old values to restore (it keeps them only "
				 "for an UPDATE or DELETE the backfill engine runs)"
			       : "this step ran and pgphase has no inverse for it", err);
			goto out;
		}
	}
	rc = 0;
out:
	cover_release(&c);
	if (rc < 0)
		run_undo_release(u);
	return rc;
}

void run_undo_release(struct run_undo *u)
{
	free(u->items);
	memset(u, 0, sizeof(*u));
}

/* $1 index name, $2 its schema ("" when unqualified: the visible one) */
static const char *const SQL_INVALID_INDEX =
	"SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
	"  JOIN pg_namespace n ON n.oid = c.relnamespace"
	" WHERE c.relname = $1 AND NOT i.indisvalid"
	"   AND (CASE WHEN $2 = '' THEN pg_table_is_visible(c.oid) ELSE n.nspname = $2 END)";

int run_undo_wanted(struct pgphase_session *s, const struct run_undo_item *it, bool *want,
		    struct pgphase_error *err)
{
	struct pgphase_sql one;
	const PgQuery__Node *n;
	const char *p[2];
	PGresult *r;

	*want = true;
	if (!it->if_invalid)
		return 0;
	n = only_stmt(&one, it->step->sql);
	if (!n || n->node_case != PG_QUERY__NODE__NODE_INDEX_STMT) {
		if (n)
			pgphase_sql_release(&one);
		return 0;
	}
	p[0] = n->index_stmt->idxname;
	p[1] = n->index_stmt->relation->schemaname ? n->index_stmt->relation->schemaname : "";
	r = db_query(s, SQL_INVALID_INDEX, 2, p, PGRES_TUPLES_OK, err);
	pgphase_sql_release(&one);
	if (!r)
		return -1;
	*want = PQntuples(r) > 0;
	PQclear(r);
	return 0;
}
