/*
 * Order is preserved where it matters.  Strategies move parts of statements to later phases
 * (a data change to backfill, a DROP to contract, a VALIDATE to the end of backfill); that is
 * safe only when no later statement of the migration runs earlier and touches what the
 * moved part touches (src/plan/plan_touch.c: the rows of a table, a column, a name,
 * a constraint, trigger, rule or policy, a function).  When one does, the moved statement is
 * kept in its place instead: run as written in expand, in the migration's transaction with
 * its neighbours, and its steps say why (pgphase_step.reason).  When the statement cannot be
 * kept in place because a phase marker put it (or the later statement) where it is, the
 * conflict is an input error (exit 2): the markers are the user's choice, not ours to undo.
 *
 * Keeping a statement in place moves it earlier, which can make a statement before it
 * conflict in turn, so the check runs to a fixpoint.  Each pass is linear in the touches:
 * every touch is filed under its key (a hash of interned keys), and each key's list is
 * scanned once from the end, keeping the earliest position of the later statements.  A
 * position is (phase, stage); within one, steps run in statement order.
 *
 * Later migrations are not looked at: `migrate` completes each migration before the next,
 * and a staged run (expand, backfill) stops before a migration whose steps depend on an
 * earlier one's phases that have not run (src/plan/plan_staged.c), so a migration's plan
 * never depends on the files after it (it must not change once its expand ran).
 *
 * Also here: statements still using a table's old name after rename-table-via-view left a
 * view under it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan_int.h"
#include "base/util.h"

#define POS(phase, stage) ((unsigned char)((phase) * 3 + (stage)))
#define NO_POS 255

struct touch {
	uint32_t key;
	unsigned char pos;
	unsigned char mode; /* enum plan_touch_mode */
};

struct stmt_touches {
	struct touch *v;
	size_t n, cap;
	unsigned char min_pos, max_pos, barrier_pos; /* barrier_pos: DO / CALL, else NO_POS */
	int line;                                     /* for messages */
	const char *file;
	bool valid;
};

struct conflict {
	bool found;
	size_t j;
	uint32_t key; /* UINT32_MAX: a barrier */
	unsigned char pos_a, pos_b;
};

struct order {
	struct plan_ctx *ctx;
	char **keys;
	size_t nkeys, capkeys;
	uint32_t *slots; /* open addressing: key id + 1, 0 empty */
	size_t nslots;
	struct stmt_touches *st; /* own statements, then later migrations' */
	size_t n_own, n_all, cap_st;
};

/* ---- interned keys ---- */

/* Keys are compared without (ASCII) case; the first spelling met is kept for messages. */
static unsigned char fold(char c)
{
	return (unsigned char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

static bool same_key(const char *a, const char *b)
{
	for (; *a && fold(*a) == fold(*b); a++, b++)
		;
	return *a == *b || fold(*a) == fold(*b);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ fold(*s)) * 1099511628211ULL;
	return h;
}

static void rehash(struct order *o)
{
	size_t n = o->nslots ? o->nslots * 2 : 1024;

	free(o->slots);
	o->slots = xcalloc(n, sizeof(*o->slots));
	o->nslots = n;
	for (size_t k = 0; k < o->nkeys; k++) {
		size_t i = hash(o->keys[k]) & (n - 1);

		while (o->slots[i])
			i = (i + 1) & (n - 1);
		o->slots[i] = (uint32_t)k + 1;
	}
}

/* The key's id; a new one is added unless lookup_only (then UINT32_MAX when absent). */
static uint32_t intern(struct order *o, const char *key, bool lookup_only)
{
	size_t i;

	if (!lookup_only && (o->nkeys + 1) * 2 > o->nslots)
		rehash(o);
	if (!o->nslots)
		return UINT32_MAX;
	for (i = hash(key) & (o->nslots - 1); o->slots[i]; i = (i + 1) & (o->nslots - 1))
		if (same_key(o->keys[o->slots[i] - 1], key))
			return o->slots[i] - 1;
	if (lookup_only)
		return UINT32_MAX;
	GROW(o->keys, o->capkeys, o->nkeys + 1);
	o->keys[o->nkeys] = (char *)key; /* in the plan's arena */
	o->slots[i] = (uint32_t)o->nkeys + 1;
	return (uint32_t)o->nkeys++;
}

/* ---- collecting a statement's touches ---- */

struct collect {
	struct order *o;
	struct stmt_touches *t;
	unsigned char pos;
	bool lookup_only;
	bool checking; /* the step only verifies rows (a NULL count) */
};

static void add_touch(void *arg, const char *key, enum plan_touch_mode mode)
{
	struct collect *c = arg;
	struct stmt_touches *t = c->t;
	uint32_t id;

	if (strcmp(key, "*") == 0) {
		if (c->pos < t->barrier_pos)
			t->barrier_pos = c->pos;
	} else {
		id = intern(c->o, key, c->lookup_only);
		if (id == UINT32_MAX)
			return;
		GROW(t->v, t->cap, t->n + 1);
		t->v[t->n++] = (struct touch){ id, c->pos, (unsigned char)mode };
	}
	if (c->pos < t->min_pos)
		t->min_pos = c->pos;
	if (t->max_pos == NO_POS || c->pos > t->max_pos)
		t->max_pos = c->pos;
}

/* The table of a unique index on the database ($1 the index, qualified when written so). */
static const char *const SQL_UNIQUE_INDEX_TABLE =
	"SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
	" WHERE i.indexrelid = to_regclass($1) AND i.indisunique";

static const char *unique_index_table(void *arg, const char *schema, const char *name)
{
	struct collect *c = arg;
	struct plan_ctx *ctx = c->o->ctx;
	PgQuery__RangeVar rv = PG_QUERY__RANGE_VAR__INIT;
	const char *params[1], *out = NULL;
	PGresult *r;

	if (!ctx->opts.session)
		return NULL;
	rv.schemaname = (char *)(schema ? schema : "");
	rv.relname = (char *)name;
	params[0] = sql_rel(ctx, &rv);
	r = plan_ask(ctx, SQL_UNIQUE_INDEX_TABLE, 1, params); /* unanswered: no key, as offline */
	if (r && PQntuples(r) == 1)
		out = arena_strdup(ctx->arena, PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

static void touches_of(struct collect *c, const PgQuery__Node *node, bool generated)
{
	struct plan_touch_sink sink = { add_touch, c, c->o->ctx->arena, c->checking, generated,
					unique_index_table };

	plan_touches(node, &sink);
}

static void touches_of_text(struct collect *c, const char *sql, bool generated)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	struct pgphase_sql parsed;

	if (pgphase_sql_parse(&parsed, sql, "<planner>", &e) == 0) {
		for (size_t k = 0; k < parsed.n; k++)
			touches_of(c, parsed.stmts[k].node, generated);
		pgphase_sql_release(&parsed);
	}
	pgphase_error_release(&e);
}

static void reset(struct stmt_touches *t)
{
	t->n = 0;
	t->min_pos = NO_POS;
	t->max_pos = NO_POS;
	t->barrier_pos = NO_POS;
	t->valid = true;
}

/*
 * Steps that run the user's own statement (as written, or moved to contract verbatim): their
 * triggers and constraint drops change what later data changes do.  Other strategies' steps
 * create and drop helpers of their own (sync triggers, NOT NULL checks) that do not.
 */
static bool users_own(const struct pgphase_step *st)
{
	return strcmp(st->strategy, "as-written") == 0 ||
	       strcmp(st->strategy, strategy_defer_destructive_to_contract.name) == 0 ||
	       strcmp(st->strategy, strategy_drop_index_concurrently.name) == 0;
}

/* Statement i of this migration, from the steps planned for it. */
static void own_touches(struct order *o, size_t i)
{
	struct plan_ctx *ctx = o->ctx;
	const struct pgphase_stmt *stmt = &ctx->m->up.sql.stmts[i];
	struct stmt_touches *t = &o->st[i];
	struct collect c = { o, t, 0, false, false };

	reset(t);
	t->line = stmt->line;
	t->file = ctx->m->up.file;
	for (size_t k = 0; k < ctx->span_n[i]; k++) {
		const struct pgphase_step *st = &ctx->plan->steps[ctx->span_first[i] + k];
		bool as_written = strcmp(st->strategy, "as-written") == 0;

		c.pos = POS(st->phase, st->stage);
		c.checking = st->kind == PGPHASE_STEP_CHECK_NULLS;
		if (as_written && ctx->span_n[i] == 1 && strcmp(st->sql, stmt->sql) == 0)
			touches_of(&c, stmt->node, false); /* the statement itself: no reparse */
		else if (st->kind == PGPHASE_STEP_BACKFILL && st->dml)
			touches_of_text(&c, st->dml, false);
		else
			touches_of_text(&c, st->sql, !users_own(st));
	}
}

/* ---- finding conflicts ---- */

static void note_conflict(struct conflict *cf, size_t n_own, size_t i, size_t j, uint32_t key,
			  unsigned char pa, unsigned char pb)
{
	if (i >= n_own || cf[i].found)
		return;
	cf[i] = (struct conflict){ true, j, key, pa, pb };
}

/*
 * For every statement i, a later statement j with a touch of a common key (one of the two a
 * change) whose position is before the position of i's touch.  One pass over every key.
 */
static void find_conflicts(struct order *o, struct conflict *cf)
{
	size_t *start = xcalloc(o->nkeys + 1, sizeof(*start)), total = 0;
	struct { uint32_t stmt; unsigned char pos, mode; } *e;
	size_t *fill;
	unsigned char min_any = NO_POS, min_bar = NO_POS;
	size_t j_any = 0, j_bar = 0;

	for (size_t i = 0; i < o->n_all; i++)
		for (size_t k = 0; k < o->st[i].n; k++)
			start[o->st[i].v[k].key + 1]++;
	for (size_t k = 0; k < o->nkeys; k++)
		start[k + 1] += start[k];
	total = start[o->nkeys];
	e = xmalloc((total ? total : 1) * sizeof(*e));
	fill = xmalloc((o->nkeys ? o->nkeys : 1) * sizeof(*fill));
	memcpy(fill, start, o->nkeys * sizeof(*fill));
	for (size_t i = 0; i < o->n_all; i++)
		for (size_t k = 0; k < o->st[i].n; k++) {
			const struct touch *t = &o->st[i].v[k];
			size_t at = fill[t->key]++;

			e[at].stmt = (uint32_t)i;
			e[at].pos = t->pos;
			e[at].mode = t->mode;
		}
	for (size_t key = 0; key < o->nkeys; key++) {
		unsigned char min_w = NO_POS, min_a = NO_POS;
		size_t jw = 0, ja = 0, g_end = start[key + 1];

		while (g_end > start[key]) {
			size_t g = g_end, i = e[g_end - 1].stmt;

			while (g > start[key] && e[g - 1].stmt == i)
				g--;
			/* i's change conflicts with any later touch run first; its read with a later
			   change run first; its check with nothing (it verifies newer rows) */
			for (size_t x = g; x < g_end; x++) {
				if (e[x].mode == PLAN_TOUCH_WRITE && min_a < e[x].pos)
					note_conflict(cf, o->n_own, i, ja, (uint32_t)key, e[x].pos, min_a);
				else if (e[x].mode == PLAN_TOUCH_READ && min_w < e[x].pos)
					note_conflict(cf, o->n_own, i, jw, (uint32_t)key, e[x].pos, min_w);
			}
			for (size_t x = g; x < g_end; x++) {
				if (e[x].pos < min_a)
					min_a = e[x].pos, ja = i;
				if (e[x].mode == PLAN_TOUCH_WRITE && e[x].pos < min_w)
					min_w = e[x].pos, jw = i;
			}
			g_end = g;
		}
	}
	/* DO and CALL may touch anything: nothing moves across them */
	for (size_t i = o->n_all; i-- > 0;) {
		const struct stmt_touches *t = &o->st[i];

		if (t->max_pos != NO_POS && min_bar < t->max_pos)
			note_conflict(cf, o->n_own, i, j_bar, UINT32_MAX, t->max_pos, min_bar);
		if (t->barrier_pos != NO_POS && min_any < t->max_pos)
			note_conflict(cf, o->n_own, i, j_any, UINT32_MAX, t->max_pos, min_any);
		if (t->barrier_pos < min_bar)
			min_bar = t->barrier_pos, j_bar = i;
		if (t->min_pos < min_any)
			min_any = t->min_pos, j_any = i;
	}
	free(fill);
	free(e);
	free(start);
}

/* ---- resolving them ---- */

static enum pgphase_phase note_phase(struct plan_ctx *ctx, size_t i)
{
	return ctx->m->up.notes[i].phase;
}

/* Would running i as written in its place change its steps? */
static bool pinnable(struct plan_ctx *ctx, size_t i)
{
	if (ctx->pinned[i] || note_phase(ctx, i) != PGPHASE_PHASE_NONE || ctx->m->up.notes[i].as_is)
		return false;
	for (size_t k = 0; k < ctx->span_n[i]; k++) {
		const struct pgphase_step *st = &ctx->plan->steps[ctx->span_first[i] + k];

		if (strcmp(st->strategy, "as-written") != 0 || st->phase != PGPHASE_PHASE_EXPAND ||
		    st->stage != 1)
			return true;
	}
	return false;
}

static const char *phase_of_pos(unsigned char pos)
{
	return pgphase_phase_name((enum pgphase_phase)(pos / 3));
}

static const char *what(struct order *o, const struct conflict *c)
{
	return c->key == UINT32_MAX ? "anything (DO or CALL)"
				    : plan_touch_display(o->ctx->arena, o->keys[c->key]);
}

/* "line 12" or "line 3 of 004_x.sql" for a later migration's statement. */
static const char *where(struct order *o, size_t j)
{
	const struct stmt_touches *t = &o->st[j];

	if (j < o->n_own)
		return arena_printf(o->ctx->arena, "line %d", t->line);
	return arena_printf(o->ctx->arena, "line %d of %s (a later migration)", t->line, t->file);
}

static int marker_conflict(struct order *o, size_t i, const struct conflict *c,
			   struct pgphase_error *err)
{
	const struct pgphase_stmt *s = &o->ctx->m->up.sql.stmts[i];

	pgphase_error_at(err, PGPHASE_EXIT_USAGE, "plan-order", o->ctx->m->up.file, s->line,
			 s->column, "statement runs in %s but %s, which comes after it, runs first "
			 "(in %s) and also touches %s: they would run in the opposite order",
			 phase_of_pos(c->pos_a), where(o, c->j), phase_of_pos(c->pos_b), what(o, c));
	pgphase_error_hint(err, "a phase marker (-- EXPAND / -- BACKFILL / -- CONTRACT) fixes "
				"one of them in place: move the marker, or put the two statements in "
				"an order that holds in every phase");
	return -1;
}

/* Decide for every conflict; false when nothing changes.  -1 on an input error. */
static int resolve(struct order *o, const struct conflict *cf, const char **reason,
		   struct pgphase_error *err)
{
	struct plan_ctx *ctx = o->ctx;
	int changed = 0;

	for (size_t i = 0; i < o->n_own; i++) {
		const struct conflict *c = &cf[i];
		size_t j = c->j;

		if (!c->found)
			continue;
		if (pinnable(ctx, i)) {
			reason[i] = arena_printf(ctx->arena, "kept in place: %s, later, runs first "
						 "(in %s) and touches %s", where(o, j),
						 phase_of_pos(c->pos_b), what(o, c));
			changed = 1;
		} else if (j < o->n_own && pinnable(ctx, j) && !reason[j] &&
			   POS(note_phase(ctx, j) ? note_phase(ctx, j) : PGPHASE_PHASE_EXPAND, 1) >=
				   c->pos_a) {
			reason[j] = arena_printf(ctx->arena, "kept in place: line %d, earlier, "
						 "runs in %s and touches %s", o->st[i].line,
						 phase_of_pos(c->pos_a), what(o, c));
			changed = 1;
		} else if (!reason[j < o->n_own ? j : i]) {
			return marker_conflict(o, i, c, err);
		}
	}
	return changed;
}

/* Replan the statements with a reason as written; steps stay in statement order. */
static int replan(struct order *o, const char **reason, struct pgphase_error *err)
{
	struct plan_ctx *ctx = o->ctx;
	struct pgphase_plan *plan = ctx->plan;
	struct pgphase_step *old = plan->steps;
	size_t old_n = plan->n;
	int rc = 0;

	plan->steps = NULL;
	plan->n = plan->cap = 0;
	for (size_t i = 0; i < o->n_own && rc == 0; i++) {
		size_t first = plan->n;

		if (reason[i]) {
			rc = plan_pinned(ctx, i, reason[i], err);
			ctx->pinned[i] = true;
			o->st[i].valid = false;
		} else if (ctx->span_n[i]) {
			/* (a statement with no steps, a file's BEGIN or COMMIT, copies nothing: old
			   may be NULL) */
			GROW(plan->steps, plan->cap, plan->n + ctx->span_n[i]);
			memcpy(plan->steps + plan->n, old + ctx->span_first[i],
			       ctx->span_n[i] * sizeof(*old));
			plan->n += ctx->span_n[i];
		}
		ctx->span_first[i] = first;
		ctx->span_n[i] = plan->n - first;
	}
	(void)old_n;
	free(old);
	return rc;
}

int plan_order(struct plan_ctx *ctx, struct pgphase_error *err)
{
	struct order o = { .ctx = ctx };
	size_t n = ctx->m->up.sql.n;
	struct conflict *cf = NULL;
	const char **reason = NULL;
	int rc = 0;

	if (n == 0)
		return 0;
	o.n_own = o.n_all = o.cap_st = n;
	o.st = xcalloc(n, sizeof(*o.st));
	for (size_t i = 0; i < n; i++)
		own_touches(&o, i);
	for (int pass = 0; rc == 0; pass++) {
		int changed;

		free(cf);
		cf = xcalloc(o.n_all, sizeof(*cf));
		free(reason);
		reason = xcalloc(n, sizeof(*reason));
		for (size_t i = 0; i < n; i++)
			if (!o.st[i].valid)
				own_touches(&o, i);
		find_conflicts(&o, cf);
		changed = resolve(&o, cf, reason, err);
		if (changed <= 0) {
			rc = changed;
			break;
		}
		rc = replan(&o, reason, err);
	}
	for (size_t i = 0; i < o.n_all; i++)
		free(o.st[i].v);
	free(o.st);
	free(o.keys);
	free(o.slots);
	free(cf);
	free(reason);
	return rc;
}

/* ---- renamed tables ---- */

struct names {
	struct plan_ctx *ctx;
	const char **v;
	size_t n, cap;
};

static enum sql_walk_next ref_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	struct names *ns = arg;

	(void)slot;
	if (m->descriptor == &pg_query__range_var__descriptor) {
		ns->v = plan_grow(ns->ctx, ns->v, &ns->cap, ns->n + 1, sizeof(*ns->v));
		ns->v[ns->n++] = ((const PgQuery__RangeVar *)m)->relname;
	}
	return SQL_WALK_CONTINUE;
}

static bool refers_to(struct plan_ctx *ctx, const PgQuery__Node *n, const char *name)
{
	struct names refs = { ctx, NULL, 0, 0 };

	sql_tree_walk(&n->base, 0, ref_visit, &refs);
	for (size_t i = 0; i < refs.n; i++)
		if (refs.v[i] && strcmp(refs.v[i], name) == 0)
			return true;
	return false;
}

/* Last phase a statement's steps run in. */
static enum pgphase_phase last_phase(struct plan_ctx *ctx, size_t i)
{
	enum pgphase_phase p = PGPHASE_PHASE_NONE;

	for (size_t k = 0; k < ctx->span_n[i]; k++)
		if (ctx->plan->steps[ctx->span_first[i] + k].phase > p)
			p = ctx->plan->steps[ctx->span_first[i] + k].phase;
	return p;
}

int plan_check_renamed_tables(struct plan_ctx *ctx, struct pgphase_error *err)
{
	const struct pgphase_sql *sql = &ctx->m->up.sql;

	for (size_t i = 0; i < sql->n; i++) {
		const PgQuery__Node *n = sql->stmts[i].node;
		const char *old;

		if (n->node_case != PG_QUERY__NODE__NODE_RENAME_STMT ||
		    n->rename_stmt->rename_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
		    !n->rename_stmt->relation || last_phase(ctx, i) == PGPHASE_PHASE_EXPAND)
			continue; /* run as written: no view is left behind */
		old = n->rename_stmt->relation->relname;
		for (size_t j = 0; j < sql->n; j++) {
			if (j == i || !refers_to(ctx, sql->stmts[j].node, old) ||
			    (j < i && last_phase(ctx, j) == PGPHASE_PHASE_EXPAND))
				continue;
			pgphase_error_at(err, PGPHASE_EXIT_USAGE, "plan-order", ctx->m->up.file,
					 sql->stmts[j].line, sql->stmts[j].column,
					 "statement uses \"%s\", which line %d renames to \"%s\" (leaving a "
					 "view under the old name) before this statement runs", old,
					 sql->stmts[i].line, n->rename_stmt->newname);
			pgphase_error_hint(err, "refer to \"%s\", or rename the table in a migration "
						"of its own", n->rename_stmt->newname);
			return -1;
		}
	}
	return 0;
}
