/*
 * rollback: undo the newest migrations, newest first.  A complete migration runs its DOWN
 * section (in one transaction unless a statement refuses one).  A migration that is not
 * complete (expanded, backfilled, or stopped inside a phase) is undone by the inverse of the
 * expand steps that ran, in reverse order, after the old values of the rows a backfill data
 * change changed are put back (run_restore.c): each step's undo_sql drops what it added (IF
 * EXISTS, indexes CONCURRENTLY outside a transaction), so a crash halfway through an undo
 * leaves a rerun nothing but no-ops to repeat.  When something that ran has no inverse (a
 * statement run as written that pgphase cannot invert, a data change of the backfill, a
 * contract step of an interrupted contract) the DOWN section runs instead.
 * Backfill progress rows go with the migration row, so applying it again starts afresh.
 */
#include <stdlib.h>
#include <string.h>

#include "base/db.h"
#include "exec/exec.h"
#include "run/run.h"
#include "pgphase/log.h"
#include "state/state.h"
#include "base/util.h"

/* $1 module, $2 version */
static const char *const SQL_FORGET_PROGRESS =
	"DELETE FROM @S@.backfill_progress WHERE module = $1 AND version = $2::bigint";

static int forget_progress(struct pgphase_session *s, const struct pgphase_migration *m,
			   struct pgphase_error *err)
{
	char version[24], *sql = state_sql(s, SQL_FORGET_PROGRESS);
	const char *params[2] = { s->cfg->module, version };
	int rc;

	snprintf(version, sizeof(version), "%lld", (long long)m->version);
	rc = db_command(s, sql, 2, params, err);
	free(sql);
	return rc;
}

/*
 * 1 when the DOWN section runs in one transaction, 0 when statement by statement, -1 on a
 * transaction control statement it cannot keep: in a transaction, the file's own BEGIN ...
 * COMMIT (block or wrapper) is what pgphase's transaction already does (*roles says which
 * statements to skip, src/sql/txn_blocks.c); outside one, any is refused.
 */
static int down_in_transaction(const struct pgphase_migration *m,
			       struct pgphase_txn_role **roles, struct pgphase_error *err)
{
	bool txn = !m->no_transaction;

	for (size_t i = 0; i < m->down.sql.n && txn; i++)
		txn = !m->down.sql.stmts[i].no_transaction;
	for (size_t i = 0; i < m->down.sql.n && !txn; i++) {
		const struct pgphase_stmt *st = &m->down.sql.stmts[i];

		if (st->transaction_control)
			return pgphase_error_at(err, PGPHASE_EXIT_USAGE, "transaction-control",
						m->down.file, st->line, st->column,
						"transaction control statement in a DOWN section that "
						"runs outside a transaction: %s", st->sql);
	}
	if (pgphase_sql_txn_roles(&m->down.sql, m->down.file, roles, err) < 0)
		return -1;
	return txn ? 1 : 0;
}

static int run_down(struct pgphase_session *s, const struct pgphase_migration *m,
		    struct pgphase_run_report *rep, struct pgphase_error *err)
{
	int64_t t0 = now_us();
	struct pgphase_txn_role *roles = NULL;
	int txn = down_in_transaction(m, &roles, err);
	struct pgphase_event ev = { "rollback.completed", NULL, "succeeded", 0, -1, NULL };
	size_t i;

	if (txn < 0)
		return -1;
	if (m->down.sql.n == 0)
		pgphase_warn("%s: the DOWN section has no statements: nothing to undo, only the "
			     "migration's record is removed", m->down.file ? m->down.file : m->file);
	if (txn && db_exec(s, "BEGIN", err) < 0) {
		free(roles);
		return -1;
	}
	for (i = 0; i < m->down.sql.n; i++) {
		const struct pgphase_stmt *st = &m->down.sql.stmts[i];

		if (roles[i].kind == PGPHASE_TXN_ROLE_BOUNDARY)
			continue; /* the file's BEGIN/COMMIT: our transaction is it */
		if (db_exec(s, st->sql, err) < 0) {
			struct pgphase_step fake = { .sql = st->sql, .file = m->down.file,
						     .line = st->line, .column = st->column };
			struct pgphase_event fail = { "phase.failed", "rollback", "failed",
						      (now_us() - t0) / 1000, -1, NULL };
			struct pgphase_error e2 = PGPHASE_ERROR_INIT;

			db_rollback(s);
			/* same "file:line:col: message" shape as migrate failures */
			pgphase_error_at(err, PGPHASE_EXIT_FAILED, "step-failed", fake.file, fake.line,
					 fake.column, "%s", s->errmsg ? s->errmsg : "failed");
			pgphase_error_detail(err, "statement: %s", st->sql);
			fail.error = err->message;
			if (state_write_failure(s, m, &fail, &e2) < 0)
				pgphase_warn("could not record the failure: %s", e2.message);
			pgphase_error_release(&e2);
			free(roles);
			return -1;
		}
		rep->steps++;
	}
	free(roles);
	ev.duration_ms = (now_us() - t0) / 1000;
	if (forget_progress(s, m, err) < 0 || state_delete(s, m, &ev, 1, err) < 0) {
		db_rollback(s);
		return -1;
	}
	if (txn && db_exec(s, "COMMIT", err) < 0)
		return -1;
	pgphase_info("  rolled back %s in %.1f ms", m->file, (now_us() - t0) / 1000.0);
	return 0;
}

/* One undo: in a transaction unless a statement refuses one; lock timeouts retried. */
static int run_undo(struct exec_ctx *x, const struct pgphase_step *st, struct pgphase_error *err)
{
	struct pgphase_sql sql;
	bool none = false;
	int64_t started = now_us();
	int rc = -1;

	if (pgphase_sql_parse(&sql, st->undo_sql, st->file, err) < 0)
		return -1;
	for (size_t i = 0; i < sql.n; i++)
		none = none || sql.stmts[i].no_transaction;
	for (int attempt = 0;; attempt++) {
		bool ok = true;

		if (!none && db_exec(x->s, "BEGIN", err) < 0)
			break;
		for (size_t i = 0; ok && i < sql.n; i++) {
			pgphase_verbose("  undo %s:%d: %s", st->file, st->line, sql.stmts[i].sql);
			ok = db_exec(x->s, sql.stmts[i].sql, err) == 0;
		}
		if (ok && (none || db_exec(x->s, "COMMIT", err) == 0)) {
			rc = 0;
			break;
		}
		db_rollback(x->s);
		if (!(db_failed_with(x->s, SQLSTATE_LOCK_NOT_AVAILABLE) && exec_backoff(x, attempt, started))) {
			pgphase_error_prefix(err, "%s:%d: undo failed", st->file, st->line);
			break;
		}
	}
	pgphase_sql_release(&sql);
	return rc;
}

/* The restores of u, newest first. */
static int run_restores(struct pgphase_session *s, const struct pgphase_migration *m,
			const struct run_undo *u, struct pgphase_run_report *rep,
			struct pgphase_error *err)
{
	struct exec_ctx x = { 0 };

	x.s = s;
	x.m = m;
	x.steps_done = &rep->steps;
	if (u->restored)
		return 0;
	for (size_t i = u->n; i-- > 0;) {
		if (!u->items[i].restore)
			continue;
		if (run_restore(&x, &u->items[i], err) < 0)
			return -1;
	}
	return 0;
}

static int run_inverse(struct pgphase_session *s, const struct pgphase_migration *m,
		       const struct run_undo *u, struct pgphase_run_report *rep,
		       struct pgphase_error *err)
{
	struct pgphase_event ev = { "rollback.completed", NULL, "succeeded", 0, -1, NULL };
	struct exec_ctx x = { 0 };
	int64_t t0 = now_us();

	x.s = s;
	x.m = m;
	x.steps_done = &rep->steps;
	/* old values first: the tables still have the expanded schema they were recorded in */
	if (run_restores(s, m, u, rep, err) < 0)
		return -1;
	for (size_t i = u->n; i-- > 0;)
		rep->steps += u->items[i].restore;
	for (size_t i = u->n; i-- > 0;) {
		bool want;

		if (u->items[i].restore)
			continue;
		if (pgphase_interrupted())
			return pgphase_error_set(err, PGPHASE_EXIT_FAILED, "interrupted");
		if (run_undo_wanted(s, &u->items[i], &want, err) < 0)
			return -1;
		if (!want)
			continue;
		if (run_undo(&x, u->items[i].step, err) < 0)
			return -1;
		rep->steps++;
	}
	ev.duration_ms = (now_us() - t0) / 1000;
	if (db_exec(s, "BEGIN", err) < 0)
		return -1;
	if (forget_progress(s, m, err) < 0 || state_delete(s, m, &ev, 1, err) < 0 ||
	    db_exec(s, "COMMIT", err) < 0) {
		db_rollback(s);
		return -1;
	}
	pgphase_info("  undid %zu step%s of %s in %.1f ms", u->n, u->n == 1 ? "" : "s", m->file,
		     (now_us() - t0) / 1000.0);
	return 0;
}

/* --dry-run: what rollback would send, per migration, in order. */
static int print_dry_run(struct pgphase_session *s, FILE *out, const struct pgphase_migration *m,
			 const struct run_undo *u, struct pgphase_error *err)
{
	if (!u) {
		fprintf(out, "rollback %s (DOWN section)\n", m->file);
		for (size_t i = 0; i < m->down.sql.n; i++)
			fprintf(out, "  %s;\n", m->down.sql.stmts[i].sql);
		return 0;
	}
	fprintf(out, "rollback %s (undo of the %zu step%s that ran, newest first)\n", m->file, u->n,
		u->n == 1 ? "" : "s");
	for (size_t i = u->n; i-- > 0;)
		if (u->items[i].restore && run_restore_print(s, m, &u->items[i], out, err) < 0)
			return -1;
	for (size_t i = u->n; i-- > 0;) {
		const struct pgphase_step *st = u->items[i].step;

		if (u->items[i].restore)
			continue;

		fprintf(out, "  -- %s:%d%s\n", st->file, st->line,
			u->items[i].if_invalid ? " (only if the index is there and INVALID)" : "");
		fprintf(out, "  %s;\n", st->undo_sql);
	}
	return 0;
}

int pgphase_rollback(struct pgphase_session *s, struct pgphase_migration_set *set,
		     const struct pgphase_run_options *o, struct pgphase_run_report *rep,
		     struct pgphase_error *err)
{
	struct pgphase_state state;
	struct pgphase_migration **todo = NULL;
	struct pgphase_plan *plans = NULL;
	struct pgphase_plan_options popts = { PQserverVersion(s->conn) / 10000, s, set, NULL,
					      PGPHASE_PHASE_NONE };
	struct run_undo *undo = NULL;
	bool *inverse = NULL;
	size_t n = 0;
	long want = o->steps > 0 ? o->steps : 1;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	if (pgphase_state_load(s, &state, err) < 0)
		return -1;
	if (pgphase_check_checksums(set, &state, err) < 0 || run_check_to(set, &state, o, true, err) < 0)
		goto cleanup;
	todo = xcalloc(state.n ? state.n : 1, sizeof(*todo));
	for (size_t i = state.n; i-- > 0;) {
		const struct pgphase_state_row *row = &state.rows[i];

		if (o->to_set ? row->version <= o->to : (long)n >= want)
			break;
		todo[n++] = pgphase_migration_find(set, row->version);
	}
	if (n == 0) {
		pgphase_info("nothing to roll back");
		rc = 0;
		goto cleanup;
	}
	/* every inverse or DOWN section must be known and parse before anything changes */
	plans = xcalloc(n, sizeof(*plans));
	undo = xcalloc(n, sizeof(*undo));
	inverse = xcalloc(n, sizeof(*inverse));
	for (size_t i = 0; i < n; i++) {
		const struct pgphase_state_row *row = pgphase_state_find(&state, todo[i]->version);
		struct pgphase_txn_role *roles = NULL;
		int txn;

		if (pgphase_migration_parse(todo[i], err) < 0)
			goto cleanup;
		if (row->state != PGPHASE_STATE_COMPLETE) {
			/* not complete: the inverse of what ran, never DOWN (written for complete);
			   planned as the run that applied it planned it */
			popts.done_through = (enum pgphase_phase)row->state;
			if (pgphase_plan_migration(&plans[i], todo[i], &popts, err) < 0 ||
			    run_undo_plan(todo[i], &plans[i], row, &undo[i], err) < 0)
				goto cleanup;
			for (size_t k = 0; k < undo[i].n; k++)
				if (undo[i].items[k].restore &&
				    run_restore_check(s, todo[i], &undo[i].items[k], err) < 0)
					goto cleanup;
			inverse[i] = true;
			continue;
		}
		/* a DOWN declared without statements (an empty .down.sql, "-- DOWN" with nothing
		   under it) says there is nothing to undo, as golang-migrate, goose, diesel and
		   popx read it: run_down runs nothing and warns */
		if (!todo[i]->down.present && !todo[i]->down.text) {
			pgphase_error_at(err, PGPHASE_EXIT_USAGE, "missing-down", todo[i]->file, 1, 0,
					 "cannot roll back: migration has no DOWN section");
			pgphase_error_hint(err, "add a \"-- DOWN\" section (or a .down.sql file); nothing "
						"was rolled back");
			goto cleanup;
		}
		txn = down_in_transaction(todo[i], &roles, err);
		free(roles);
		if (txn < 0)
			goto cleanup;
	}
	if (o->dry_run) {
		for (size_t i = 0; i < n; i++)
			if (print_dry_run(s, o->out ? o->out : stdout, todo[i],
					  inverse[i] ? &undo[i] : NULL, err) < 0)
				goto cleanup;
		rc = 0;
		goto cleanup;
	}
	/* old values first, newest first, while every table still has the columns they were
	   recorded with (a newer migration's undo may drop some); run_inverse finds them done */
	for (size_t i = 0; i < n && inverse[i]; i++)
		if (run_restores(s, todo[i], &undo[i], rep, err) < 0)
			goto cleanup;
		else
			undo[i].restored = true;
	for (size_t i = 0; i < n; i++) {
		pgphase_info("rolling back %s ...", todo[i]->file);
		if (!inverse[i] ? run_down(s, todo[i], rep, err) < 0
				: run_inverse(s, todo[i], &undo[i], rep, err) < 0)
			goto cleanup;
		rep->migrations++;
	}
	rc = 0;
cleanup:
	for (size_t i = 0; plans && i < n; i++) {
		run_undo_release(&undo[i]);
		pgphase_plan_release(&plans[i]);
	}
	free(plans);
	free(undo);
	free(inverse);
	free(todo);
	pgphase_state_release(&state);
	return rc;
}
