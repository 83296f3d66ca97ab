/*
 * The planner's schema model: what the statements of the migrations did so far, replayed in
 * order as the planner walks them.  Relations created (tables, temporary tables, CREATE TABLE
 * AS, views), renamed, moved to another schema and dropped; columns added (type, NOT NULL and
 * default from the ColumnDef), renamed, dropped, retyped, SET/DROP NOT NULL and DEFAULT;
 * primary keys, constraints and indexes created, renamed and dropped.  Earlier migrations
 * that are not complete on the database (offline: every earlier one) are replayed first,
 * because everything is planned before the first change.
 *
 * The model knows only what the statements say: it never asks the catalog (plan_model.c
 * combines both: the catalog answers for what the model has not touched, the model for what
 * it has).  A renamed relation or column remembers the catalog name it had.
 *
 * Statements are replayed by src/plan/plan_state_apply.c.  Names are found through hash
 * maps (planning stays linear in the number of statements: the linter plans files of 20,000
 * statements).  Everything lives in one arena: the plan's, or,
 * when planning a migration without its directory (the linter asks statement by statement),
 * a cache on the migration that moves forward with the questions.
 */
#include <stdlib.h>
#include <string.h>

#include "pgphase/state.h"
#include "plan/plan_state.h"
#include "base/util.h"

/* ---- hash map: name -> value, newest first among equal names --------------------------- */

static void map_grow(struct pgphase_arena *a, struct st_map *m)
{
	size_t nb = m->nb ? m->nb * 2 : 16;
	struct st_ent **b = arena_alloc(a, nb * sizeof(*b));

	memset(b, 0, nb * sizeof(*b));
	for (size_t i = 0; i < m->nb; i++) {
		/* appended in chain order: equal names keep newest first */
		struct st_ent *e = m->b[i], *next;

		for (; e; e = next) {
			struct st_ent **tail = &b[e->h & (nb - 1)];

			next = e->next;
			while (*tail)
				tail = &(*tail)->next;
			e->next = NULL;
			*tail = e;
		}
	}
	m->b = b;
	m->nb = nb;
}

void st_map_put(struct pgphase_arena *a, struct st_map *m, const char *key, const char *schema,
		    void *val)
{
	struct st_ent *e = arena_alloc(a, sizeof(*e));

	if (m->n + 1 > m->nb)
		map_grow(a, m);
	e->key = key;
	e->schema = schema ? schema : "";
	e->h = str_hash(key);
	e->val = val;
	e->next = m->b[e->h & (m->nb - 1)];
	m->b[e->h & (m->nb - 1)] = e;
	m->n++;
}

/* An unqualified name may mean the qualified one: the same object when either has none. */
static bool same_schema(const char *a, const char *b)
{
	return !a || !b || !a[0] || !b[0] || strcmp(a, b) == 0;
}

/* The first entry named key (schema compatible when schema is not NULL), or NULL. */
struct st_ent *st_map_find(const struct st_map *m, const char *key, const char *schema,
			       struct st_ent *after)
{
	uint64_t h;
	struct st_ent *e;

	if (!m->nb || !key)
		return NULL;
	h = str_hash(key);
	for (e = after ? after->next : m->b[h & (m->nb - 1)]; e; e = e->next)
		if (e->h == h && strcmp(e->key, key) == 0 && (!schema || same_schema(e->schema, schema)))
			return e;
	return NULL;
}

/* ---- relations and columns ------------------------------------------------------------ */

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* The live relation named by (schema, name), or NULL (unknown, or a tombstone's). */
struct st_rel *st_rel_find(struct plan_state *st, const char *schema, const char *name,
			       bool *tombstone)
{
	struct st_ent *e = NULL;

	if (tombstone)
		*tombstone = false;
	while ((e = st_map_find(&st->rels, name, schema, e))) {
		struct st_rel *r = e->val;

		if (r->forgotten)
			continue;
		if (r->pub.gone) {
			if (tombstone)
				*tombstone = true;
			return NULL;
		}
		return r;
	}
	return NULL;
}

struct st_rel *st_rel_new(struct plan_state *st, const char *schema, const char *name)
{
	struct st_rel *r = arena_alloc(st->arena, sizeof(*r));

	memset(r, 0, sizeof(*r));
	r->pub.schema = str_or_empty(schema);
	r->pub.name = name;
	r->pub.is_new = st->current;
	st_fresh(st, &r->pub.is_new);
	st_map_put(st->arena, &st->rels, name, schema, r);
	return r;
}

void st_rel_tombstone(struct plan_state *st, const char *schema, const char *name)
{
	struct st_rel *r = st_rel_new(st, schema, name);

	r->pub.gone = true;
}

/* The relation a statement changes: the model's, else an entry for the catalog's. */
struct st_rel *st_rel_for_change(struct plan_state *st, const PgQuery__RangeVar *rv)
{
	struct st_rel *r = st_rel_find(st, rv->schemaname, rv->relname, NULL);

	if (r)
		return r;
	r = st_rel_new(st, rv->schemaname, rv->relname);
	r->pub.is_new = false;
	r->pub.cat_schema = r->pub.schema;
	r->pub.cat_name = rv->relname;
	return r;
}

struct st_rel *st_rel_create(struct plan_state *st, const PgQuery__RangeVar *rv)
{
	struct st_rel *r = st_rel_new(st, rv->schemaname, rv->relname);

	r->pub.created = true;
	r->pub.key_known = true; /* no key until one is declared */
	r->pub.temp = rv->relpersistence && strcmp(rv->relpersistence, "t") == 0;
	if (r->pub.temp) {
		if (st->n_temps == st->cap_temps) {
			size_t cap = st->cap_temps ? st->cap_temps * 2 : 8;
			struct st_rel **v = arena_alloc(st->arena, cap * sizeof(*v));

			if (st->n_temps)
				memcpy(v, st->temps, st->n_temps * sizeof(*v));
			st->temps = v;
			st->cap_temps = cap;
		}
		st->temps[st->n_temps++] = r;
	}
	return r;
}

struct plan_state_col *st_col_find(struct st_rel *r, const char *name, bool *tombstone)
{
	struct st_ent *e = st_map_find(&r->cols, name, NULL, NULL);
	struct plan_state_col *c = e ? e->val : NULL;

	if (tombstone)
		*tombstone = c && c->gone;
	return c && !c->gone ? c : NULL;
}

struct plan_state_col *st_col_new(struct plan_state *st, struct st_rel *r, const char *name)
{
	struct plan_state_col *c = arena_alloc(st->arena, sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->not_null = -1;
	st_map_put(st->arena, &r->cols, name, NULL, c);
	return c;
}

/* The column a statement changes: the model's, else an entry for the catalog's. */
struct plan_state_col *st_col_for_change(struct plan_state *st, struct st_rel *r,
					     const char *name)
{
	struct plan_state_col *c = st_col_find(r, name, NULL);

	if (c)
		return c;
	c = st_col_new(st, r, name);
	c->catalog = r->pub.created ? NULL : name;
	return c;
}

void st_fresh(struct plan_state *st, bool *is_new)
{
	if (!*is_new)
		return;
	if (st->n_fresh == st->cap_fresh) {
		size_t cap = st->cap_fresh ? st->cap_fresh * 2 : 16;
		bool **v = arena_alloc(st->arena, cap * sizeof(*v));

		if (st->n_fresh)
			memcpy(v, st->fresh, st->n_fresh * sizeof(*v));
		st->fresh = v;
		st->cap_fresh = cap;
	}
	st->fresh[st->n_fresh++] = is_new;
}

/* ---- building and advancing ------------------------------------------------------------ */

/*
 * A run's carried model: st holds every pending migration of version <= upto, or, while
 * in_use, also the statements [0, st->pos) of the migration `in` being planned.
 */
struct pgphase_plan_carry {
	struct pgphase_arena *arena;
	struct plan_state *st;
	int64_t upto;
	bool in_use;
	const struct pgphase_migration *in;
	bool done_asked;             /* done (the versions complete on the database) was asked */
	struct pgphase_state done, *have_done;
	void *touches;               /* the ordering rule's cache (plan_deps.c), in arena */
};

void **plan_carry_slot(struct plan_ctx *ctx, struct pgphase_arena **arena)
{
	if (!ctx->opts.carry)
		return NULL;
	*arena = ctx->opts.carry->arena;
	return &ctx->opts.carry->touches;
}

struct pgphase_plan_carry *pgphase_plan_carry_new(void)
{
	struct pgphase_plan_carry *c = xcalloc(1, sizeof(*c));

	c->arena = pgphase_arena_new();
	return c;
}

void pgphase_plan_carry_free(struct pgphase_plan_carry *c)
{
	if (!c)
		return;
	if (c->have_done)
		pgphase_state_release(c->have_done);
	pgphase_arena_free(c->arena);
	free(c);
}

static void cache_free(void *p)
{
	struct plan_state *st = p;

	pgphase_arena_free(st->arena);
}

/* Versions complete on the database: their effects are the catalog's (NULL: none known). */
static struct pgphase_state *load_complete(struct plan_ctx *ctx, struct pgphase_state *state)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;

	if (!ctx->opts.session || pgphase_state_load(ctx->opts.session, state, &e) < 0) {
		pgphase_error_release(&e); /* no state to read: every earlier migration is pending */
		return NULL;
	}
	return state;
}

/* Replay the pending migrations of set with from < version < to onto st. */
static void replay(struct plan_state *st, struct pgphase_migration_set *set,
		   const struct pgphase_state *done, int64_t from, int64_t to)
{
	for (size_t i = 0; i < set->n && set->items[i].version < to; i++) {
		struct pgphase_migration *o = &set->items[i];
		const struct pgphase_state_row *row = done ? pgphase_state_find(done, o->version) : NULL;
		struct pgphase_error e = PGPHASE_ERROR_INIT;

		if (o->version <= from || (row && row->state == PGPHASE_STATE_COMPLETE))
			continue;
		if (pgphase_migration_parse(o, &e) == 0)
			for (size_t k = 0; k < o->up.sql.n; k++)
				st_apply(st, o->up.sql.stmts[k].node);
		pgphase_error_release(&e); /* a broken earlier migration is reported on its own */
		st_forget_temps(st);
	}
}

/* The carried model, moved on to the start of ctx->m; NULL when it cannot serve (planned out
 * of version order, or already inside a migration: a replan after the ordering rule). */
static struct plan_state *from_carry(struct plan_ctx *ctx)
{
	struct pgphase_plan_carry *c = ctx->opts.carry;
	struct plan_state *st;

	if (!c || !ctx->opts.set || c->in_use || (c->st && c->upto >= ctx->m->version))
		return NULL;
	if (!c->done_asked) {
		c->have_done = load_complete(ctx, &c->done);
		c->done_asked = true;
	}
	if (!c->st) {
		c->st = arena_alloc(c->arena, sizeof(*c->st));
		memset(c->st, 0, sizeof(*c->st));
		c->st->arena = c->arena;
		c->upto = INT64_MIN;
	}
	st = c->st;
	st->current = false;
	replay(st, ctx->opts.set, c->have_done, c->upto, ctx->m->version);
	st->current = true;
	st->m = ctx->m;
	st->pos = 0;
	c->in_use = true;
	c->in = ctx->m;
	return st;
}

void plan_state_finish(struct plan_ctx *ctx)
{
	struct pgphase_plan_carry *c = ctx->opts.carry;
	struct plan_state *st;
	const struct pgphase_sql *sql = &ctx->m->up.sql;

	if (!c || !c->in_use || c->in != ctx->m)
		return;
	st = c->st;
	for (; st->pos < sql->n; st->pos++)
		st_apply(st, sql->stmts[st->pos].node);
	st_forget_temps(st);
	for (size_t i = 0; i < st->n_fresh; i++)
		*st->fresh[i] = false; /* new in m, not in the migrations after it */
	st->n_fresh = 0;
	c->upto = ctx->m->version;
	c->in_use = false;
	c->in = NULL;
	if (ctx->state == st)
		ctx->state = NULL;
}

static struct plan_state *build(struct plan_ctx *ctx)
{
	struct pgphase_migration *m = (struct pgphase_migration *)ctx->m; /* its cache slot */
	struct pgphase_migration_set *set = ctx->opts.set;
	bool cached = !set; /* without a directory the model depends on m alone */
	struct pgphase_arena *a = cached ? pgphase_arena_new() : ctx->arena;
	struct plan_state *st = from_carry(ctx);
	struct pgphase_state state, *done = NULL;

	if (st)
		return st;
	st = arena_alloc(a, sizeof(*st));
	memset(st, 0, sizeof(*st));
	st->arena = a;
	st->own_arena = cached;
	st->m = m;
	if (cached) {
		if (m->plan_index_free)
			m->plan_index_free(m->plan_index);
		m->plan_index = st;
		m->plan_index_free = cache_free;
	}
	if (set) {
		done = load_complete(ctx, &state);
		replay(st, set, done, INT64_MIN, m->version);
	}
	if (done)
		pgphase_state_release(done);
	st->current = true;
	return st;
}

struct plan_state *plan_state_at(struct plan_ctx *ctx, size_t before)
{
	struct plan_state *st = ctx->state;
	const struct pgphase_sql *sql = &ctx->m->up.sql;

	if (!st && !ctx->opts.set && ctx->m->plan_index_free == cache_free)
		st = ctx->m->plan_index; /* the linter's: it asks in statement order */
	if (!st || st->pos > before)
		st = build(ctx);
	for (; st->pos < before && st->pos < sql->n; st->pos++)
		st_apply(st, sql->stmts[st->pos].node);
	ctx->state = st;
	ctx->pos = before;
	return st;
}

const struct plan_state_rel *plan_state_rel(struct plan_state *st, const PgQuery__RangeVar *rv)
{
	static const struct plan_state_rel gone = { .gone = true };
	bool tombstone;
	struct st_rel *r;

	if (!rv)
		return NULL;
	r = st_rel_find(st, rv->schemaname, rv->relname, &tombstone);
	return r ? &r->pub : tombstone ? &gone : NULL;
}

const struct plan_state_col *plan_state_col(struct plan_state *st,
					    const struct plan_state_rel *rel, const char *column)
{
	static const struct plan_state_col gone = { .gone = true, .not_null = -1 };
	struct st_rel *r = (struct st_rel *)rel; /* pub is the first member */
	struct plan_state_col *c;
	bool tombstone;

	(void)st;
	if (!rel || rel->gone || !column)
		return NULL;
	c = st_col_find(r, column, &tombstone);
	return c ? c : tombstone ? &gone : NULL;
}

bool plan_name_freed(struct plan_ctx *ctx, const char *schema, const char *name, size_t before)
{
	struct plan_state *st = plan_state_at(ctx, before);
	struct st_ent *e = st_map_find(&st->idx, name, schema, NULL);
	bool tombstone = false;

	/* the newest entry of the name says what the statements before did with it */
	if (e)
		return ((const struct st_idx *)e->val)->gone;
	return !st_rel_find(st, schema, name, &tombstone) && tombstone;
}

/* The same schema for a name check: equal, or unqualified against "public" (the default
 * search_path); other unqualified names are not counted, so no false collision is reported. */
static bool surely_same_schema(const char *a, const char *b)
{
	a = a ? a : "";
	b = b ? b : "";
	return strcmp(a, b) == 0 || (!a[0] && strcmp(b, "public") == 0) ||
	       (!b[0] && strcmp(a, "public") == 0);
}

bool plan_name_created(struct plan_ctx *ctx, const char *schema, const char *name, size_t before)
{
	struct plan_state *st = plan_state_at(ctx, before);
	struct st_ent *e = NULL;

	/* the newest entry of the name in the schema says what the statements did with it */
	while ((e = st_map_find(&st->idx, name, NULL, e)))
		if (surely_same_schema(e->schema, schema)) {
			const struct st_idx *ix = e->val;

			/* an index goes with its table: dropped, the name is no longer that table's */
			return !ix->gone && (!ix->rel || st_rel_find(st, ix->rel->pub.schema,
								     ix->rel->pub.name, NULL) == ix->rel);
		}
	while ((e = st_map_find(&st->rels, name, NULL, e))) {
		const struct st_rel *r = e->val;

		if (r->forgotten || r->pub.temp || !surely_same_schema(e->schema, schema))
			continue;
		/* a table of the catalog under its own name: the catalog answers */
		return !r->pub.gone && (!r->pub.cat_name || strcmp(r->pub.cat_name, name) != 0 ||
					strcmp(r->pub.cat_schema, r->pub.schema) != 0);
	}
	return false;
}
