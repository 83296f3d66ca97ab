/*
 * add-unique-using-index: ADD UNIQUE / ADD PRIMARY KEY builds its index under ACCESS
 * EXCLUSIVE.  Expand builds the unique index CONCURRENTLY (checked for indisvalid like
 * create-index-concurrently).  UNIQUE is then attached in expand with ADD CONSTRAINT ...
 * USING INDEX, a catalog change.  A PRIMARY KEY also needs NOT NULL columns, which
 * PostgreSQL would set with a full scan: each key column gets the set-not-null-via-check
 * sequence (check NOT VALID in expand, validated at the end of backfill, SET NOT NULL without
 * a scan in contract) and the key is attached in contract.  Constraints with INCLUDE,
 * NULLS NOT DISTINCT, options, a tablespace or deferrability run as written, and so does
 * any of them on a partitioned table (no CONCURRENTLY on the parent).  An unnamed key gets
 * the name PostgreSQL would give it (<table>_<columns>_key, <table>_pkey, numbered while the
 * name is taken); an explicit name taken by another relation is refused at plan time.
 */
#include <string.h>

#include "strategy.h"
#include "plan/plan_names.h"

#define NAMEDATALEN 64

static const char *const SQL_BUILD_INDEX = "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s)";
static const char *const SQL_DROP_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS %s";
static const char *const SQL_ATTACH = "ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s";
static const char *const SQL_DETACH = "ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s";

static const PgQuery__Constraint *key_constraint(const struct strategy_input *in)
{
	const PgQuery__AlterTableCmd *c =
		strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint);
	const PgQuery__Constraint *k;

	if (!c || !c->def || c->def->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
		return NULL;
	k = c->def->constraint;
	if (k->contype != PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE &&
	    k->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
		return NULL;
	return k;
}

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	const PgQuery__Constraint *k = key_constraint(in);

	return k && !k->indexname[0] && k->n_keys > 0 && !k->n_including && !k->nulls_not_distinct &&
	       !k->n_options && !k->indexspace[0] && !k->deferrable && !k->initdeferred &&
	       !plan_is_partitioned(ctx, in->node->alter_table_stmt->relation);
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__RangeVar *rv = in->node->alter_table_stmt->relation;
	const PgQuery__Constraint *k = key_constraint(in);
	bool pk = k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY;
	struct pgphase_arena *a = plan_arena(ctx);
	PgQuery__RangeVar idx_rv = *rv;
	char *rel = sql_rel(ctx, rv), *cols = "", *names = "", *name, *con, *target;
	char *build, *drop = NULL, *attach = NULL, *detach = NULL;
	const char **keys = arena_alloc(a, (k->n_keys + 1) * sizeof(*keys));
	struct plan_name_want w = { rv, pk ? 'p' : 'u', true, true, keys, k->n_keys };
	struct pgphase_step *st;

	for (size_t i = 0; i < k->n_keys; i++) {
		keys[i] = sql_str(k->keys[i]);
		cols = arena_printf(a, "%s%s%s", cols, i ? ", " : "", sql_ident(ctx, keys[i]));
		/* ChooseIndexNameAddition: cut once past NAMEDATALEN */
		if (strlen(names) < NAMEDATALEN)
			names = arena_printf(a, "%s%s%s", names, i ? "_" : "", keys[i]);
	}
	/* PostgreSQL's defaults: <table>_pkey, <table>_<cols>_key (ChooseIndexName) */
	if (k->conname[0]) {
		struct plan_name_want iw = w;

		iw.contype = 0; /* an explicit name clashes only with a relation */
		name = k->conname;
		if (plan_name_refuse_taken(ctx, in, &iw, name, err) < 0)
			return -1;
	} else {
		name = plan_choose_name(ctx, &w, rv->relname, pk ? NULL : names, pk ? "pkey" : "key",
					false);
	}
	con = sql_ident(ctx, name);
	idx_rv.relname = name;
	target = sql_rel(ctx, &idx_rv);
	build = sql_renderf(ctx, err, SQL_BUILD_INDEX, con, rel, cols);
	drop = build ? sql_renderf(ctx, err, SQL_DROP_INDEX, target) : NULL;
	attach = drop ? sql_renderf(ctx, err, SQL_ATTACH, rel, con, pk ? "PRIMARY KEY" : "UNIQUE",
				    con) : NULL;
	detach = attach ? sql_renderf(ctx, err, SQL_DETACH, rel, con) : NULL;
	if (!detach)
		return -1;
	st = plan_add(ctx, &strategy_add_unique_using_index, in, PGPHASE_PHASE_EXPAND,
		      PGPHASE_TXN_NONE, build, drop);
	st->kind = PGPHASE_STEP_INDEX;
	st->retry_lock = true;
	st->target = target;
	for (size_t i = 0; pk && i < k->n_keys; i++)
		if (plan_not_null_steps(ctx, &strategy_add_unique_using_index, in, rv,
					sql_str(k->keys[i]), true, err) < 0)
			return -1;
	plan_add(ctx, &strategy_add_unique_using_index, in,
		 pk ? PGPHASE_PHASE_CONTRACT : PGPHASE_PHASE_EXPAND,
		 pk ? PGPHASE_TXN_OWN : PGPHASE_TXN_GROUP, attach, pk ? NULL : detach);
	return 0;
}

/* a primary key is attached in contract, after its columns' NOT NULL checks validate */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	const PgQuery__Constraint *k = key_constraint(in);

	return plan_phase_raised(in, k && k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY
					     ? PGPHASE_PHASE_CONTRACT
					     : PGPHASE_PHASE_EXPAND);
}

const struct pgphase_strategy strategy_add_unique_using_index = {
	.name = "add-unique-using-index",
	.summary = "ADD UNIQUE / PRIMARY KEY: unique index built CONCURRENTLY, then ADD CONSTRAINT "
		   "... USING INDEX (a primary key's NOT NULL via validated checks, key in contract)",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
