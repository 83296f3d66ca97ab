/*
 * Staged runs across migrations.  `pgphase expand` and `backfill` run the early phases of
 * several pending migrations ahead, while each earlier migration's later phases wait: its
 * contract (drops, NOT NULL, renames finished, constraints and indexes dropped in contract)
 * until the next `contract`, and under `expand` also its backfill (data changes,
 * validations).  Each migration is planned against the schema the earlier ones leave once
 * complete, so a later migration whose steps of this run touch what an earlier migration's
 * pending steps change would meet another schema than the one it was planned for (a name not
 * yet freed, a column not yet dropped or made NOT NULL, rows not yet deduplicated).
 *
 * This file finds such a dependency before the first change, with the ordering rule's keys
 * (src/plan/plan_touch.c: rows, columns, names, constraints, unique keys, ...): the keys the
 * pending steps of the earlier plans touch are collected (plan_staged_add_pending), and a
 * later plan's steps of this run — and the statements they come from, since a strategy's
 * steps may not show the column they are about — depend on them when they share a key and
 * one of the two changes it.  An earlier pending check of rows (SET NOT NULL, VALIDATE, a
 * NULL count) against a later change of rows does not count: it verifies the rows the
 * change leaves, and the helper CHECK that expand adds already guards them.  DO and CALL count as touching anything.  Keys are compared without case and without
 * schema, as the ordering rule does: a false match only stops a staged run one migration
 * early.  It decides nothing about running; the run layer stops before the dependent
 * migration (src/run/run.c).  One per run.
 */
#include <stdlib.h>
#include <string.h>

#include "base/db.h"
#include "plan/plan_int.h"
#include "plan/plan_staged.h"
#include "base/util.h"

#define M_READ 1
#define M_WRITE 2
#define M_CHECK 4

struct staged_key {
	const char *key;
	unsigned modes;
	const char *file; /* the earlier migration whose pending step touches it (the first) */
	int line;
	enum pgphase_phase phase; /* that step's */
};

/* Where a pending step of an earlier migration is: for the reason. */
struct staged_at {
	const char *file;
	int line;
	enum pgphase_phase phase;
};

struct plan_staged {
	struct pgphase_arena *arena;
	struct pgphase_session *session;
	struct staged_key *slots; /* open addressing, key NULL: empty */
	size_t nslots, n;
	struct staged_at barrier; /* a pending step runs DO / CALL (file NULL: none) */
	struct staged_at any;     /* a pending step at all (for a later DO / CALL) */
};

static unsigned char fold(char c)
{
	return (unsigned char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

static bool same_key(const char *a, const char *b)
{
	for (; *a && fold(*a) == fold(*b); a++, b++)
		;
	return fold(*a) == fold(*b);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ fold(*s)) * 1099511628211ULL;
	return h;
}

static struct staged_key *slot(struct plan_staged *s, const char *key)
{
	size_t i;

	if (!s->nslots)
		return NULL;
	for (i = hash(key) & (s->nslots - 1); s->slots[i].key; i = (i + 1) & (s->nslots - 1))
		if (same_key(s->slots[i].key, key))
			return &s->slots[i];
	return &s->slots[i];
}

static void grow(struct plan_staged *s)
{
	struct staged_key *old = s->slots;
	size_t n = s->nslots;

	s->nslots = n ? n * 2 : 256;
	s->slots = xcalloc(s->nslots, sizeof(*s->slots));
	for (size_t i = 0; i < n; i++)
		if (old[i].key)
			*slot(s, old[i].key) = old[i];
	free(old);
}

struct plan_staged *plan_staged_new(struct pgphase_session *session)
{
	struct plan_staged *s = xcalloc(1, sizeof(*s));

	s->arena = pgphase_arena_new();
	s->session = session;
	return s;
}

void plan_staged_free(struct plan_staged *s)
{
	if (!s)
		return;
	free(s->slots);
	pgphase_arena_free(s->arena);
	free(s);
}

static unsigned mode_bit(enum plan_touch_mode m)
{
	return m == PLAN_TOUCH_WRITE ? M_WRITE : m == PLAN_TOUCH_CHECK ? M_CHECK : M_READ;
}

/* What the touches of one key mean together (a: the earlier migration's pending steps, b:
 * the later one's of this run): a change on one side against any touch on the other, except
 * a pending check of rows, which verifies the rows the later change leaves. */
static bool conflicts(const char *key, unsigned a, unsigned b)
{
	if (key[0] == 'd')
		a &= ~(unsigned)M_CHECK;
	return ((a & M_WRITE) && b) || ((b & M_WRITE) && a);
}

/* ---- the touches of one step ---- */

struct step_touches {
	struct plan_staged *s;
	const struct pgphase_step *st;
	bool collecting;        /* pending steps of an earlier plan: add to s */
	const char *reason;     /* checking a later plan: the first dependency found */
	struct staged_at earlier;
	bool changes_only;      /* a later step's statement: only what it changes counts */
};

static void on_touch(void *arg, const char *key, enum plan_touch_mode mode)
{
	struct step_touches *t = arg;
	struct plan_staged *s = t->s;
	struct staged_key *k;

	if (strcmp(key, "*") == 0) {
		if (t->collecting && !s->barrier.file) {
			s->barrier = (struct staged_at){ t->st->file, t->st->line, t->st->phase };
		} else if (!t->collecting && !t->reason && s->any.file) {
			t->earlier = s->any;
			t->reason = arena_printf(s->arena, "%s:%d (DO or CALL) may touch anything "
						 "the %s step at %s:%d changes", t->st->file,
						 t->st->line, pgphase_phase_name(s->any.phase),
						 s->any.file, s->any.line);
		}
		return;
	}
	if (t->collecting) {
		if ((s->n + 1) * 2 > s->nslots)
			grow(s);
		k = slot(s, key);
		if (!k->key) {
			k->key = arena_strdup(s->arena, key);
			k->file = t->st->file;
			k->line = t->st->line;
			k->phase = t->st->phase;
			s->n++;
		}
		k->modes |= mode_bit(mode);
		return;
	}
	if (t->reason || (t->changes_only && mode != PLAN_TOUCH_WRITE))
		return;
	if (s->barrier.file) {
		t->earlier = s->barrier;
		t->reason = arena_printf(s->arena, "the %s step at %s:%d runs DO or CALL, which "
					 "may touch anything %s:%d uses",
					 pgphase_phase_name(s->barrier.phase), s->barrier.file,
					 s->barrier.line, t->st->file, t->st->line);
		return;
	}
	k = slot(s, key);
	if (!k || !k->key || !conflicts(key, k->modes, mode_bit(mode)))
		return;
	t->earlier = (struct staged_at){ k->file, k->line, k->phase };
	t->reason = arena_printf(s->arena, "%s:%d %s %s, which the %s step at %s:%d %s",
				 t->st->file, t->st->line,
				 mode == PLAN_TOUCH_WRITE ? "changes" : "uses",
				 plan_touch_display(s->arena, key), pgphase_phase_name(k->phase),
				 k->file, k->line, k->modes & M_WRITE ? "changes" : "uses");
}

/* The table of a unique index on the database, for a DROP INDEX's unique-key touch. */
static const char *const SQL_UNIQUE_INDEX_TABLE =
	"SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
	" WHERE i.indexrelid = to_regclass($1) AND i.indisunique";

static const char *unique_index_table(void *arg, const char *schema, const char *name)
{
	struct step_touches *t = arg;
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	const char *p[1], *out = NULL;
	char *qs, *qn;
	PGresult *r;

	if (!t->s->session)
		return NULL;
	qn = quote_ident_always(name);
	qs = schema && schema[0] ? quote_ident_always(schema) : NULL;
	p[0] = qs ? arena_printf(t->s->arena, "%s.%s", qs, qn) : arena_strdup(t->s->arena, qn);
	free(qs);
	free(qn);
	r = db_query(t->s->session, SQL_UNIQUE_INDEX_TABLE, 1, p, PGRES_TUPLES_OK, &e);
	pgphase_error_release(&e); /* unanswered: no key, as offline */
	if (r && PQntuples(r) == 1)
		out = arena_strdup(t->s->arena, PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

/* Steps that run the user's own statement (their drops and triggers change what later
 * statements meet), as the ordering rule counts them. */
static bool users_own(const struct pgphase_step *st)
{
	return strcmp(st->strategy, "as-written") == 0 ||
	       strcmp(st->strategy, strategy_defer_destructive_to_contract.name) == 0 ||
	       strcmp(st->strategy, strategy_drop_index_concurrently.name) == 0;
}

static void step_touches(struct step_touches *t)
{
	const struct pgphase_step *st = t->st;
	const char *sql = st->kind == PGPHASE_STEP_BACKFILL && st->dml ? st->dml : st->sql;
	struct plan_touch_sink sink = { on_touch, t, t->s->arena,
					st->kind == PGPHASE_STEP_CHECK_NULLS,
					!users_own(st) && st->kind != PGPHASE_STEP_BACKFILL,
					unique_index_table };
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	struct pgphase_sql parsed;

	if (!sql || (st->kind == PGPHASE_STEP_BACKFILL && !st->dml))
		return;
	if (pgphase_sql_parse(&parsed, sql, "<planner>", &e) == 0) {
		for (size_t k = 0; k < parsed.n; k++)
			plan_touches(parsed.stmts[k].node, &sink);
		pgphase_sql_release(&parsed);
	}
	pgphase_error_release(&e);
}

const char *plan_staged_needs(struct plan_staged *s, const struct pgphase_plan *plan,
			      enum pgphase_phase done, enum pgphase_phase through,
			      const char **earlier, enum pgphase_phase *phase)
{
	struct step_touches t = { s, NULL, false, NULL, { NULL, 0, PGPHASE_PHASE_NONE }, false };

	if (!s->any.file)
		return NULL; /* no earlier step waits */
	const struct pgphase_sql *up = plan->migration ? &plan->migration->up.sql : NULL;
	size_t last_origin = (size_t)-1;

	for (size_t i = 0; i < plan->n && !t.reason; i++) {
		const struct pgphase_step *st = &plan->steps[i];

		if (st->phase <= done || st->phase > through || st->phase == PGPHASE_PHASE_CONTRACT)
			continue;
		t.st = st;
		step_touches(&t);
		/* and what the statement it comes from changes: a strategy's steps (a sync
		   trigger's function body is text) do not show the column a rename or type
		   change is about; its reads are the steps' own (a VALIDATE in backfill) */
		if (!t.reason && up && st->origin < up->n && st->origin != last_origin) {
			struct plan_touch_sink sink = { on_touch, &t, s->arena, false, false,
							unique_index_table };

			t.changes_only = true;
			plan_touches(up->stmts[st->origin].node, &sink);
			t.changes_only = false;
			last_origin = st->origin;
		}
	}
	if (t.reason && earlier)
		*earlier = t.earlier.file;
	if (t.reason && phase)
		*phase = t.earlier.phase;
	return t.reason;
}

void plan_staged_add_pending(struct plan_staged *s, const struct pgphase_plan *plan,
			     enum pgphase_phase after)
{
	struct step_touches t = { s, NULL, true, NULL, { NULL, 0, PGPHASE_PHASE_NONE }, false };

	for (size_t i = 0; i < plan->n; i++) {
		if (plan->steps[i].phase <= after)
			continue;
		t.st = &plan->steps[i];
		if (!s->any.file)
			s->any = (struct staged_at){ t.st->file, t.st->line, t.st->phase };
		step_touches(&t);
	}
}
