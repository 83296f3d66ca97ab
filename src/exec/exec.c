/*
 * The executor: runs a plan phase by phase, committing state with every step.
 *
 * Steps of a phase form units: consecutive "txn" SQL steps share one transaction, "own"
 * steps stand alone in one, and "none" steps and the special kinds (index builds with their
 * validity check, keyset-batched backfill loops, NULL counts: src/exec/exec_steps.c) manage their
 * own transactions.  A transactional unit writes its progress (or the phase's end) inside
 * its own transaction, so a migration is recorded if and only if its changes committed.
 * When the last unit of a phase is transactional and the following phases (up to the
 * requested one) have no steps, their completion rides in the same transaction: a plain
 * migration is one transaction holding its statements, its state row and its events.
 * Any other step is recorded right before and after it runs; a rerun resumes at the first
 * step not recorded, and such steps are idempotent by construction.  Lock timeouts (55P03)
 * on retry-safe units are retried with exponential backoff and full jitter within
 * lock_retry_budget.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/backoff.h"
#include "base/db.h"
#include "exec/exec.h"
#include "pgphase/log.h"
#include "state/state.h"
#include "base/util.h"

static unsigned bit(enum pgphase_phase p)
{
	return 1u << p;
}

/* Turn the last query failure into "file:line:col: <server message>" for the step; the
 * server's position is only meaningful for SQL run as written (it is the file's text). */
static int step_error(struct pgphase_session *s, const struct pgphase_step *st, const char *lead,
		      struct pgphase_error *err);

int exec_step_error(struct pgphase_session *s, const struct pgphase_step *st,
		    struct pgphase_error *err)
{
	return step_error(s, st, pgphase_interrupted() && db_failed_with(s, SQLSTATE_QUERY_CANCELED)
				 ? "interrupted: " : "", err);
}

/* The same with lead (e.g. why retries stopped) before the server's message. */
static int step_error(struct pgphase_session *s, const struct pgphase_step *st, const char *lead,
		      struct pgphase_error *err)
{
	int line = st->line, col = st->column;
	bool as_written = strcmp(st->strategy, "as-written") == 0;
	char *msg = xstrdup(s->errmsg ? s->errmsg : (err->message ? err->message : "failed"));

	if (s->errpos > 0 && as_written) {
		/* server position is relative to the statement text: move the location there */
		size_t off = pgphase_cursor_to_offset(st->sql, s->errpos);
		int l, c;

		text_position(st->sql, off, &l, &c);
		col = l == 1 ? st->column + c - 1 : c;
		line = st->line + l - 1;
	}
	pgphase_error_at(err, PGPHASE_EXIT_FAILED, "step-failed", st->file, line, col, "%s%s",
			 lead, msg);
	pgphase_error_detail(err, "statement: %s", st->sql);
	free(msg);
	return -1;
}

/* Events and state for the end of phase, plus trailing phases without steps. */
static void finish_update(struct exec_ctx *x, enum pgphase_phase phase, struct state_update *u,
			  struct pgphase_event *ev)
{
	enum pgphase_phase p = phase;

	u->n_events = 0;
	u->finished_mask = bit(phase);
	u->started_mask |= bit(phase);
	ev[u->n_events++] = (struct pgphase_event){ "phase.completed", pgphase_phase_name(phase),
						    "succeeded", (now_us() - x->phase_start_us) / 1000,
						    phase == PGPHASE_PHASE_BACKFILL ? x->backfill_rows : -1,
						    NULL, x->backfill_swept, x->backfill_batches };
	while (p < x->through && pgphase_plan_count(x->plan, (enum pgphase_phase)(p + 1)) == 0) {
		p++;
		u->started_mask |= bit(p);
		u->finished_mask |= bit(p);
		ev[u->n_events++] = (struct pgphase_event){ "phase.completed", pgphase_phase_name(p),
							    "succeeded", 0, -1, NULL };
	}
	u->state = (enum pgphase_mstate)p;
	u->current_phase = PGPHASE_PHASE_NONE;
	u->next_step = 0;
	if (u->state == PGPHASE_STATE_COMPLETE)
		ev[u->n_events++] = (struct pgphase_event){ "migration.completed", NULL, "succeeded",
							    (now_us() - x->migration_start_us) / 1000,
							    -1, NULL };
	u->events = ev;
	x->finished_through = p;
}

static void progress_update(struct exec_ctx *x, enum pgphase_phase phase, int next,
			    struct state_update *u)
{
	memset(u, 0, sizeof(*u));
	u->state = x->state;
	u->current_phase = phase;
	u->next_step = next;
	u->started_mask = bit(phase);
}

/* The identity record of step i (index in its phase), for the state write. */
static void step_record(const struct exec_ctx *x, size_t i, enum pgphase_phase phase, int index,
			bool done, struct pgphase_step_record *r)
{
	r->phase = phase;
	r->step = index;
	memcpy(r->fingerprint, x->fp[i], sizeof(r->fingerprint));
	r->line = x->plan->steps[i].line;
	r->done = done;
}

/* Lock retries: 0.1 s, 0.2 s, ... at most 10 s apart, full jitter. */
static const struct pgphase_backoff lock_backoff = { 100000, 10 * 1000000LL, false };

/* Sleep for a full-jitter exponential backoff; false when the budget is spent or the run
 * was interrupted (also while sleeping: SIGINT/SIGTERM end the sleep within 50 ms). */
bool exec_backoff(struct exec_ctx *x, int attempt, int64_t started_us)
{
	int64_t wait = backoff_next(&lock_backoff, attempt,
				    started_us + (int64_t)x->s->cfg->lock_retry_budget_ms * 1000);

	if (wait < 0)
		return false;
	pgphase_info("  lock not available; retrying in %.2f s (attempt %d)", wait / 1e6, attempt + 1);
	return backoff_sleep(wait, NULL, NULL);
}

int exec_lock_gave_up(struct exec_ctx *x, const struct pgphase_step *st, int attempts,
		      int64_t started_us, struct pgphase_error *err)
{
	double secs = (now_us() - started_us) / 1e6;
	char *lead = pgphase_interrupted()
		? xasprintf("interrupted while waiting for a lock (%d attempt%s in %.1f s): ",
			    attempts, attempts == 1 ? "" : "s", secs)
		: xasprintf("gave up waiting for a lock after %d attempts in %.1f s "
			    "(lock_retry_budget %.1f s): ", attempts, secs,
			    x->s->cfg->lock_retry_budget_ms / 1000.0);

	step_error(x->s, st, lead, err);
	free(lead);
	return -1;
}

/* Run steps [from, to) in one transaction together with their state update. */
static int run_txn_unit(struct exec_ctx *x, size_t from, size_t to, bool last_of_phase,
			enum pgphase_phase phase, int next_index, struct pgphase_error *err)
{
	struct pgphase_event ev[8];
	struct state_update u;
	int64_t started = now_us();
	bool retry_ok = true;
	struct pgphase_step_record *recs = x->fp ? xcalloc(to - from, sizeof(*recs)) : NULL;
	int rc = -1;

	for (size_t i = from; i < to; i++) {
		retry_ok = retry_ok && x->plan->steps[i].retry_lock;
		if (recs) /* the unit's steps are numbered up to next_index in their phase */
			step_record(x, i, phase, next_index - (int)(to - i), true, &recs[i - from]);
	}
	for (int attempt = 0;; attempt++) {
		size_t i;

		if (db_exec(x->s, "BEGIN", err) < 0)
			break;
		for (i = from; i < to; i++) {
			pgphase_verbose("  %s:%d: %s", x->plan->steps[i].file, x->plan->steps[i].line,
					x->plan->steps[i].sql);
			if (db_exec(x->s, x->plan->steps[i].sql, err) < 0)
				break;
		}
		if (i == to) {
			progress_update(x, phase, next_index, &u);
			u.steps = recs;
			u.n_steps = recs ? to - from : 0;
			if (last_of_phase)
				finish_update(x, phase, &u, ev);
			if (state_write(x->s, x->m, &u, err) == 0 && db_exec(x->s, "COMMIT", err) == 0) {
				x->state = u.state;
				*x->steps_done += to - from;
				rc = 0;
				break;
			}
			db_rollback(x->s);
			break; /* state write failed: nothing committed */
		}
		db_rollback(x->s);
		if (!retry_ok || !db_failed_with(x->s, SQLSTATE_LOCK_NOT_AVAILABLE)) {
			exec_step_error(x->s, &x->plan->steps[i], err);
			break;
		}
		if (!exec_backoff(x, attempt, started)) {
			exec_lock_gave_up(x, &x->plan->steps[i], attempt + 1, started, err);
			break;
		}
	}
	free(recs);
	return rc;
}

/*
 * Run one step that manages its own transactions (autocommit SQL, index builds, backfill
 * loops, NULL counts: src/exec/exec_steps.c).  Progress is recorded before and after, so a rerun
 * repeats at most this step, which is idempotent by construction.
 */
static int run_none_step(struct exec_ctx *x, size_t i, bool last_of_phase,
			 enum pgphase_phase phase, int index, struct pgphase_error *err)
{
	struct pgphase_event ev[8];
	struct state_update u;
	struct pgphase_step_record rec;

	/* recorded as started with its identity: a rerun after the step was changed in place
	 * knows its partial work (a backfill's progress) is not the new step's */
	progress_update(x, phase, index, &u);
	if (x->fp) {
		step_record(x, i, phase, index, false, &rec);
		u.steps = &rec;
		u.n_steps = 1;
	}
	if (state_write(x->s, x->m, &u, err) < 0)
		return -1;
	if (exec_step_run(x, i, err) < 0)
		return -1;
	(*x->steps_done)++;
	progress_update(x, phase, index + 1, &u);
	if (x->fp) {
		rec.done = true;
		u.steps = &rec;
		u.n_steps = 1;
	}
	if (last_of_phase)
		finish_update(x, phase, &u, ev);
	if (state_write(x->s, x->m, &u, err) < 0)
		return -1;
	x->state = u.state;
	return 0;
}

/* Record the failure (own transaction) without hiding the original error. */
static void record_failure(struct exec_ctx *x, enum pgphase_phase phase, const char *message)
{
	struct pgphase_error e2 = PGPHASE_ERROR_INIT;
	struct pgphase_event ev = { "phase.failed", pgphase_phase_name(phase), "failed",
				    (now_us() - x->phase_start_us) / 1000, -1, message };

	db_rollback(x->s);
	if (PQstatus(x->s->conn) != CONNECTION_OK)
		return;
	if (state_write_failure(x->s, x->m, &ev, &e2) < 0)
		pgphase_warn("could not record the failure: %s", e2.message);
	pgphase_error_release(&e2);
}

/* Finish a phase none of whose steps is left to run (it has none, or all ran already). */
static int finish_alone(struct exec_ctx *x, enum pgphase_phase phase, int next,
			struct pgphase_error *err)
{
	struct pgphase_event ev[8];
	struct state_update u;

	progress_update(x, phase, next, &u);
	finish_update(x, phase, &u, ev);
	if (state_write(x->s, x->m, &u, err) < 0)
		return -1;
	x->state = u.state;
	return 0;
}

/*
 * Run the steps of phase from its step resume on (the ones before ran in an earlier
 * attempt; a unit they began with is cut there, as its first part committed).  Returns 0
 * only when the phase finished.
 */
static int run_phase(struct exec_ctx *x, enum pgphase_phase phase, int resume,
		     struct pgphase_error *err)
{
	size_t first = x->plan->n, last = 0, idx, i;

	x->phase_start_us = now_us();
	for (i = 0; i < x->plan->n; i++)
		if (x->plan->steps[i].phase == phase) {
			if (first == x->plan->n)
				first = i;
			last = i + 1;
		}
	if (first == x->plan->n)
		first = last = 0; /* no step in this phase */
	if (resume < 0 || (size_t)resume > last - first)
		return pgphase_error_at(err, PGPHASE_EXIT_USAGE, "resume-mismatch", x->m->file, 1, 0,
					"cannot resume at step %d of %s: the plan has %zu steps there",
					resume + 1, pgphase_phase_name(phase), last - first);
	if ((size_t)resume == last - first)
		return finish_alone(x, phase, resume, err);
	for (i = first + (size_t)resume, idx = (size_t)resume; i < last;) {
		size_t end = i + 1;
		int rc;

		if (x->plan->steps[i].txn == PGPHASE_TXN_GROUP && x->plan->steps[i].kind == PGPHASE_STEP_SQL)
			while (end < last && x->plan->steps[end].txn == PGPHASE_TXN_GROUP &&
			       x->plan->steps[end].kind == PGPHASE_STEP_SQL)
				end++;
		if (pgphase_interrupted())
			return pgphase_error_set(err, PGPHASE_EXIT_FAILED, "interrupted");
		if (x->plan->steps[i].txn == PGPHASE_TXN_NONE || x->plan->steps[i].kind != PGPHASE_STEP_SQL)
			rc = run_none_step(x, i, end == last, phase, (int)idx, err);
		else
			rc = run_txn_unit(x, i, end, end == last, phase, (int)(idx + end - i), err);
		if (rc < 0) {
			record_failure(x, phase, err->message);
			return -1;
		}
		idx += end - i;
		i = end;
	}
	return 0;
}

/*
 * Run the plan from where row says it stopped.  Every round of the loop finishes at least
 * one phase or fails, so it ends after at most three rounds.
 */
int exec_plan(struct exec_ctx *x, const struct pgphase_state_row *row, struct pgphase_error *err)
{
	struct exec_resume rp;
	enum pgphase_phase phase;
	int rc = -1;

	if (exec_resume_point(x->plan, row, false, &rp, err) < 0)
		return -1;
	x->state = row ? row->state : PGPHASE_STATE_PENDING;
	x->migration_start_us = now_us();
	x->finished_through = (enum pgphase_phase)x->state;
	x->fp = exec_fingerprints(x->plan);
	if (rp.reset_backfill && state_reset_backfill(x->s, x->m, rp.resume_index, err) < 0)
		goto cleanup;
	phase = (enum pgphase_phase)(x->state + 1);
	while (phase <= x->through) {
		if (pgphase_interrupted()) {
			pgphase_error_set(err, PGPHASE_EXIT_FAILED, "interrupted");
			goto cleanup;
		}
		if (run_phase(x, phase, rp.phase == phase ? rp.next_step : 0, err) < 0)
			goto cleanup;
		if (x->finished_through < phase) {
			pgphase_error_set(err, PGPHASE_EXIT_FAILED, "%s: %s did not finish", x->m->file,
					  pgphase_phase_name(phase));
			goto cleanup;
		}
		phase = (enum pgphase_phase)(x->finished_through + 1);
	}
	rc = 0;
cleanup:
	free(x->fp);
	x->fp = NULL;
	return rc;
}
