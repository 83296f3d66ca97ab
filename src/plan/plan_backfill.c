/*
 * The planner's side of a batched data change: it hands the backfill engine a spec — the
 * statement (deparsed), the key with its column types, the batch size of "-- pgphase:batch-size"
 * — and renders nothing itself.  The key comes from the engine's own resolution,
 * pgphase_backfill_key(): on the database when there is one and the table exists there, else
 * (offline, or a table an earlier migration creates) from what the migrations tell, the
 * model's key (CREATE TABLE, or --key) with the column types written there.  What `plan`
 * shows is rendered by the engine's generator (pgphase_backfill_render) from that key, so it
 * is byte for byte what the engine sends.
 *
 * The engine's checks (pgphase_backfill_check: the statement must tell done rows from pending
 * ones, no WITH/RETURNING, an INSERT ... SELECT's source and conflict handling) run here, at
 * plan time, before anything changes.
 */
#include <stdlib.h>
#include <string.h>

#include "pgphase/backfill.h"
#include "plan/plan_int.h"
#include "base/util.h"

/* A type name, deparsed: the graft replaces pgphase_type_t. */
static const char *const SQL_TYPE_TMPL = "SELECT NULL::pgphase_type_t";
#define SQL_TYPE_PREFIX "SELECT NULL::"

/* The place of a backfill that already ran with --key (its key may be unknown now). */
static const char *const SQL_DONE_WITH_KEY = "-- done (key given with --key when it ran)";

/* Pseudo-types CREATE TABLE accepts for a column, and the type the column gets. */
static const char *const serials[][2] = {
	{ "serial", "integer" }, { "serial4", "integer" },   { "bigserial", "bigint" },
	{ "serial8", "bigint" }, { "smallserial", "smallint" }, { "serial2", "smallint" },
};
#define N_SERIALS (sizeof(serials) / sizeof(*serials))

/* A column type as SQL text, the way the deparser writes it; "unknown" if not. */
static const char *type_text(struct plan_ctx *ctx, const PgQuery__TypeName *tn)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	struct sql_graft g = { "t", NULL, tn };
	const char *name = tn->n_names == 1 ? sql_str(tn->names[0]) : NULL;
	char *sql;

	for (size_t i = 0; name && !tn->n_array_bounds && i < N_SERIALS; i++)
		if (strcmp(name, serials[i][0]) == 0)
			return serials[i][1];
	sql = sql_render(ctx, SQL_TYPE_TMPL, &g, 1, &e);
	pgphase_error_release(&e);
	/* our own one-statement template: the deparser writes the cast after the fixed prefix */
	return sql && strncmp(sql, SQL_TYPE_PREFIX, strlen(SQL_TYPE_PREFIX)) == 0
		       ? sql + strlen(SQL_TYPE_PREFIX) : "unknown";
}

/* A key the engine resolved (malloc'd) moved into the plan's arena, like every step string. */
static void key_take(struct plan_ctx *ctx, struct pgphase_backfill_key *dst,
		     struct pgphase_backfill_key *src)
{
	size_t n = (size_t)src->n;

	*dst = *src;
	dst->cols = arena_alloc(ctx->arena, (n ? n : 1) * sizeof(*dst->cols));
	dst->types = arena_alloc(ctx->arena, (n ? n : 1) * sizeof(*dst->types));
	for (size_t i = 0; i < n; i++) {
		dst->cols[i] = arena_strdup(ctx->arena, src->cols[i]);
		dst->types[i] = arena_strdup(ctx->arena, src->types[i]);
	}
	dst->display = arena_strdup(ctx->arena, src->display);
	pgphase_backfill_key_release(src);
}

/* The key the migrations tell (--key, else CREATE TABLE's primary key); n == 0 when none. */
static void model_key(struct plan_ctx *ctx, const PgQuery__RangeVar *rv,
		      struct pgphase_backfill_key *key)
{
	char **cols = plan_table_key(ctx, rv);

	for (; cols && *cols; cols++) {
		struct plan_column c;

		pgphase_backfill_key_add(key, *cols, plan_column_info(ctx, rv, *cols, &c)
							     ? type_text(ctx, c.type) : "unknown");
	}
}

/*
 * The engine's key resolution: on the database when the table exists there, else the key
 * the migrations tell.  0, or -1 with err set.
 */
static int resolve_key(struct plan_ctx *ctx, struct pgphase_backfill_spec *spec,
		       const PgQuery__RangeVar *rv, struct pgphase_backfill_key *key,
		       struct pgphase_backfill_key *model, struct pgphase_error *err)
{
	struct pgphase_session *s = ctx->opts.session;
	struct pgphase_error e = PGPHASE_ERROR_INIT;

	if (s) {
		if (pgphase_backfill_key(s, spec, key, &e) == 0)
			return 0;
		if (!e.kind || strcmp(e.kind, PGPHASE_BACKFILL_NO_TABLE) != 0) {
			pgphase_error_move(err, &e);
			return -1;
		}
		pgphase_error_release(&e); /* a table an earlier migration creates */
	}
	model_key(ctx, rv, model);
	spec->resolved = model;
	return pgphase_backfill_key(NULL, spec, key, err);
}

int plan_backfill(struct plan_ctx *ctx, const struct pgphase_strategy *by,
		  const struct strategy_input *in, const PgQuery__Node *dml, struct pgphase_error *err)
{
	const PgQuery__RangeVar *rv = pgphase_backfill_source(dml);
	enum pgphase_phase phase = plan_phase(in, PGPHASE_PHASE_BACKFILL);
	const struct pgphase_session *s = ctx->opts.session;
	struct pgphase_backfill_key key = { 0 }, model = { 0 };
	struct pgphase_backfill_spec spec = { 0 };
	struct pgphase_step *st;
	char *batch, *open, *text;
	int rc = -1;

	/* the engine's key (pgphase_backfill_key), the model's and the rendered batches are
	   malloc'd by the backfill layer: taken into the arena, or released below */
	spec.stmt = dml;
	spec.key = ctx->opts.key;
	spec.batch_size = in->note ? in->note->batch_size : 0;
	/* as exec_backfill_step runs it: the user's data change keeps its old values */
	spec.keep_old = by && strcmp(by->name, "data-change-to-backfill") == 0 &&
			pgphase_plan_keeps_old(ctx->plan, dml);
	spec.file = ctx->m->up.file;
	spec.line = in->stmt->line;
	spec.column = in->stmt->column;
	if (pgphase_backfill_check_batchable(&spec, err) < 0)
		goto cleanup;
	if (resolve_key(ctx, &spec, rv, &key, &model, err) < 0) {
		if (phase > ctx->opts.done_through)
			goto cleanup;
		/* already ran (e.g. with --key): keep its place in the plan, never run it again */
		pgphase_error_release(err);
		pgphase_error_init(err);
		text = sql_deparse(ctx, dml, err);
		if (!text)
			goto cleanup;
		st = plan_add(ctx, by, in, phase, PGPHASE_TXN_NONE,
			      arena_strdup(ctx->arena, SQL_DONE_WITH_KEY), NULL);
		st->kind = PGPHASE_STEP_BACKFILL;
		st->target = sql_rel_display(ctx, rv);
		st->dml = text;
		rc = 0;
		goto cleanup;
	}
	if (pgphase_backfill_render(&spec, &key,
				    ctx->opts.state_schema ? ctx->opts.state_schema
				    : s ? s->cfg->state_schema : "pgphase", &batch,
				    &open, err) < 0)
		goto cleanup;
	batch = arena_take(ctx->arena, batch);
	open = arena_take(ctx->arena, open);
	text = sql_deparse(ctx, dml, err);
	if (!text)
		goto cleanup;
	st = plan_add(ctx, by, in, phase, PGPHASE_TXN_NONE, batch, NULL);
	st->kind = PGPHASE_STEP_BACKFILL;
	st->retry_lock = true;
	st->target = sql_rel_display(ctx, rv);
	st->dml = text;
	key_take(ctx, &st->key, &key);
	st->batch_size = spec.batch_size;
	st->open_sql = open;
	rc = 0;
cleanup:
	pgphase_backfill_key_release(&key);
	pgphase_backfill_key_release(&model);
	return rc;
}

int plan_backfill_text(struct plan_ctx *ctx, const struct pgphase_strategy *by,
		       const struct strategy_input *in, const char *sql, struct pgphase_error *err)
{
	const PgQuery__Node *dml = plan_parse_node(ctx, sql, err);

	return dml ? plan_backfill(ctx, by, in, dml, err) : -1;
}
