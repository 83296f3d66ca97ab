/*
 * Where the rerun of an unfinished migration resumes: by step identity, not by position.
 *
 * Every step that runs is recorded in the state tables with a fingerprint: the SHA-256 of
 * its phase, kind and strategy, its rank among the steps of its statement, and the
 * statement's text as written in the file (constants included: an edited value is an
 * edited step).  When the file changed since the last attempt (a failed migration fixed in
 * place), the new plan is matched against the records, phase by phase: the steps that ran
 * (every step of a finished phase, the first next_step steps of the phase in progress) must
 * be an unchanged prefix of the new plan.  Then the rerun resumes after them, and the failed
 * step and everything after it may change freely (a backfill that changed at the resume
 * point starts over).  A step that ran and changed or vanished, or a new step before the
 * resume point (which would never run), is refused: exit 2, nothing changed, each named with
 * file:line, phase and step number.  Rows of an older pgphase carry only the position: they
 * resume by it, refused when the new plan has fewer steps than already ran.
 *
 * Not here: running steps (exec.c), writing the records (src/state/state_write.c).
 */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "exec/exec.h"
#include "pgphase/log.h"

/* At most this many differences are listed; one is enough to refuse. */
#define MAX_LISTED 20

char (*exec_fingerprints(const struct pgphase_plan *plan))[65]
{
	const struct pgphase_migration *m = plan->migration;
	size_t nstmt = m ? m->up.sql.n : 0;
	unsigned *rank = xcalloc(nstmt + 1, sizeof(*rank));
	char (*fp)[65] = xcalloc(plan->n ? plan->n : 1, sizeof(*fp));
	struct sbuf sb = SBUF_INIT;

	for (size_t i = 0; i < plan->n; i++) {
		const struct pgphase_step *st = &plan->steps[i];
		bool own = st->origin < nstmt;
		const char *text = own ? m->up.sql.stmts[st->origin].sql : st->sql;

		/* fields without newlines, then the text with its length: unambiguous */
		sb.len = 0;
		sbuf_addf(&sb, "%s\n%s\n%s\n%u\n%zu\n", pgphase_phase_name(st->phase),
			  pgphase_step_kind_name(st->kind), st->strategy ? st->strategy : "",
			  rank[own ? st->origin : nstmt]++, strlen(text ? text : ""));
		sbuf_adds(&sb, text ? text : "");
		pgphase_sha256_hex(sb.buf, sb.len, fp[i]);
	}
	sbuf_release(&sb);
	free(rank);
	return fp;
}

/* One phase's comparison: the records that ran against the new plan's steps. */
struct phase_cmp {
	const struct pgphase_plan *plan;
	char (*fp)[65];
	enum pgphase_phase phase;
	const struct pgphase_step_record **old; /* done records, by step */
	size_t n_old;
	const size_t *now; /* plan indices of the phase's steps */
	size_t n_now;
	bool finished;     /* the whole phase ran: nothing may be added to it */
};

struct diff {
	struct sbuf list;
	size_t n;
	const char *file; /* first difference, for the message */
	int line;
};

static void note(struct diff *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void note(struct diff *d, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char *what;

	if (!d->n) {
		d->file = file;
		d->line = line;
	}
	if (d->n++ >= MAX_LISTED)
		return;
	va_start(ap, fmt);
	what = xvasprintf(fmt, ap);
	va_end(ap);
	sbuf_addf(&d->list, "\n  %s:%d: %s", file, line, what);
	free(what);
}

static bool same(const struct phase_cmp *c, size_t i, size_t j)
{
	return strcmp(c->old[i]->fingerprint, c->fp[c->now[j]]) == 0;
}

static bool found_now(const struct phase_cmp *c, size_t i, size_t from, size_t *at)
{
	for (size_t j = from; j < c->n_now; j++)
		if (same(c, i, j)) {
			*at = j;
			return true;
		}
	return false;
}

static bool found_old(const struct phase_cmp *c, size_t j, size_t from)
{
	for (size_t i = from; i < c->n_old; i++)
		if (same(c, i, j))
			return true;
	return false;
}

/*
 * Walk the records and the new steps together, naming what differs: a new step where a
 * record is found further on was inserted, a record whose step is found further on among
 * the records... otherwise the two were changed into each other.  Stops listing after
 * MAX_LISTED (each search is linear, so this stays linear in the plan).
 */
static void compare_phase(const struct phase_cmp *c, struct diff *d)
{
	const char *file = c->plan->migration->file, *ph = pgphase_phase_name(c->phase);
	size_t i = 0, j = 0, at;

	if (c->n_old <= c->n_now && (!c->finished || c->n_old == c->n_now)) {
		while (i < c->n_old && same(c, i, i))
			i++;
		if (i == c->n_old)
			return; /* the common case: an unchanged prefix */
		i = 0;
	}
	while (i < c->n_old && d->n < MAX_LISTED) {
		const struct pgphase_step *st = j < c->n_now ? &c->plan->steps[c->now[j]] : NULL;

		if (st && same(c, i, j)) {
			i++, j++;
		} else if (st && found_now(c, i, j + 1, &at)) {
			for (; j < at; j++)
				note(d, file, c->plan->steps[c->now[j]].line, "step %zu of %s is new, "
				     "before steps that already ran: it would never run", j + 1, ph);
		} else if (!st || found_old(c, j, i + 1)) {
			note(d, file, c->old[i]->line, "step %d of %s already ran and is no longer in "
			     "the file (line as it was)", c->old[i]->step + 1, ph);
			i++;
		} else {
			note(d, file, st->line, "step %zu of %s is not the step that ran there (line %d "
			     "as it was): it changed or was removed", j + 1, ph, c->old[i]->line);
			i++, j++;
		}
	}
	for (; c->finished && i == c->n_old && j < c->n_now && d->n < MAX_LISTED; j++)
		note(d, file, c->plan->steps[c->now[j]].line, "step %zu of %s is new in a phase that "
		     "already finished: it would never run", j + 1, ph);
}

/* Compare every phase that ran, fully or up to the resume point. */
static void compare(const struct pgphase_plan *plan, char (*fp)[65],
		    const struct pgphase_state_row *row, struct diff *d)
{
	const struct pgphase_step_record **old = xcalloc(row->n_steps + 1, sizeof(*old));
	size_t *now = xcalloc(plan->n + 1, sizeof(*now));

	for (int p = PGPHASE_PHASE_EXPAND; p <= PGPHASE_PHASE_CONTRACT; p++) {
		struct phase_cmp c = { plan, fp, (enum pgphase_phase)p, old, 0, now, 0, false };

		c.finished = p <= (int)row->state;
		if (!c.finished && p != (int)row->current_phase)
			continue;
		for (size_t k = 0; k < row->n_steps; k++) {
			const struct pgphase_step_record *r = &row->steps[k];

			if (r->phase == c.phase && r->done && (c.finished || r->step < row->next_step))
				old[c.n_old++] = r;
		}
		for (size_t k = 0; k < plan->n; k++)
			if (plan->steps[k].phase == c.phase)
				now[c.n_now++] = k;
		if (!c.finished && c.n_old != (size_t)row->next_step)
			note(d, plan->migration->file, 1, "%d step%s of %s ran, %zu recorded: which "
			     "steps ran cannot be told", row->next_step, row->next_step == 1 ? "" : "s",
			     pgphase_phase_name(c.phase), c.n_old);
		else
			compare_phase(&c, d);
	}
	free(now);
	free(old);
}

/* Plan index of step k of phase p, or plan->n. */
static size_t plan_index(const struct pgphase_plan *plan, enum pgphase_phase p, int k)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->steps[i].phase == p && k-- == 0)
			return i;
	return plan->n;
}

static const struct pgphase_step_record *record_at(const struct pgphase_state_row *row,
						   enum pgphase_phase p, int step)
{
	for (size_t k = 0; k < row->n_steps; k++)
		if (row->steps[k].phase == p && row->steps[k].step == step)
			return &row->steps[k];
	return NULL;
}

/* The plan has fewer steps in the phase in progress than already ran (by position). */
static int refuse_short(const struct pgphase_plan *plan, const struct pgphase_state_row *row,
			size_t count, struct pgphase_error *err)
{
	pgphase_error_at(err, PGPHASE_EXIT_USAGE, "resume-mismatch", plan->migration->file, 1, 0,
			 "cannot resume: %d step%s of %s already ran, but the file now plans %zu "
			 "there", row->next_step, row->next_step == 1 ? "" : "s",
			 pgphase_phase_name(row->current_phase), count);
	pgphase_error_hint(err, "restore the file as it was when it failed, then fix only the "
				"failed step, or run \"pgphase rollback\" first; nothing was changed");
	return -1;
}

int exec_resume_point(const struct pgphase_plan *plan, const struct pgphase_state_row *row,
		      bool warn, struct exec_resume *rp, struct pgphase_error *err)
{
	const struct pgphase_migration *m = plan->migration;
	enum pgphase_phase cur = row ? row->current_phase : PGPHASE_PHASE_NONE;
	size_t count = cur != PGPHASE_PHASE_NONE ? pgphase_plan_count(plan, cur) : 0;
	struct diff d = { SBUF_INIT, 0, NULL, 0 };
	char (*fp)[65];

	memset(rp, 0, sizeof(*rp));
	rp->phase = PGPHASE_PHASE_NONE;
	if (!row)
		return 0;
	rp->phase = cur;
	rp->next_step = cur != PGPHASE_PHASE_NONE ? row->next_step : 0;
	if (strcmp(m->checksum, row->checksum) == 0 || !row->steps_recorded) {
		/* by position: bounded by the plan */
		if (rp->next_step < 0 || (size_t)rp->next_step > count)
			return refuse_short(plan, row, count, err);
		if (strcmp(m->checksum, row->checksum) == 0)
			return 0;
		if (warn)
			pgphase_warn("%s changed while unfinished; resuming at step %d of %s by "
				     "position (its steps were recorded by an older pgphase, so an edit "
				     "before that step cannot be detected)", m->file, rp->next_step + 1,
				     pgphase_phase_name(cur == PGPHASE_PHASE_NONE
							? (enum pgphase_phase)(row->state + 1) : cur));
		return 0;
	}
	fp = exec_fingerprints(plan);
	compare(plan, fp, row, &d);
	if (d.n) {
		pgphase_error_at(err, PGPHASE_EXIT_USAGE, "resume-mismatch", d.file, d.line, 0,
				 "cannot resume: steps that already ran were edited (%zu "
				 "difference%s)", d.n, d.n == 1 ? "" : "s");
		pgphase_error_detail(err, "a rerun skips the steps that already ran, so they must "
					  "stay as they were:%s%s", d.list.buf,
				     d.n > MAX_LISTED ? "\n  ..." : "");
		pgphase_error_hint(err, "only the failed step and the steps after it may change: "
					"restore the others, or restore the file, run \"pgphase "
					"rollback\", then edit it; nothing was changed");
	} else if (cur != PGPHASE_PHASE_NONE && (size_t)rp->next_step < count) {
		const struct pgphase_step_record *r = record_at(row, cur, rp->next_step);

		rp->resume_index = plan_index(plan, cur, rp->next_step);
		/* the step that was running changed: its backfill progress is not its own */
		rp->reset_backfill = !r || strcmp(r->fingerprint, fp[rp->resume_index]) != 0;
	}
	if (!d.n && warn)
		pgphase_warn("%s changed while unfinished; the steps that already ran are "
			     "unchanged: resuming at step %d of %s", m->file, rp->next_step + 1,
			     pgphase_phase_name(cur == PGPHASE_PHASE_NONE
						? (enum pgphase_phase)(row->state + 1) : cur));
	free(fp);
	sbuf_release(&d.list);
	return d.n ? -1 : 0;
}
