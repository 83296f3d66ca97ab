/*
 * add-check-not-valid: ADD CHECK scans the whole table under ACCESS EXCLUSIVE.  Added NOT
 * VALID in expand (a brief lock; new rows are checked from then on) and validated at the end
 * of backfill in its own transaction, which scans under SHARE UPDATE EXCLUSIVE.  An unnamed
 * check gets the name PostgreSQL would give it: <table>_<column>_check when it references
 * exactly one column, else <table>_check, numbered while the name is taken in the schema.
 * A statement the deparser cannot reproduce exactly runs as written.
 */
#include <string.h>

#include "strategy.h"
#include "plan/plan_names.h"

struct vars {
	struct pgphase_arena *a;
	const char **names;
	size_t n, cap;
};

/* The distinct columns the expression references (pull_var_clause + list_union). */
static enum sql_walk_next var_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	const PgQuery__ColumnRef *cr = (const PgQuery__ColumnRef *)m;
	struct vars *v = arg;
	const char *name;

	(void)slot;
	if (m->descriptor != &pg_query__column_ref__descriptor || cr->n_fields == 0 ||
	    !(name = sql_str(cr->fields[cr->n_fields - 1])))
		return SQL_WALK_CONTINUE;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->names[i], name) == 0)
			return SQL_WALK_SKIP;
	if (v->n == v->cap) {
		const char **grown = arena_alloc(v->a, (v->cap = v->cap * 2 + 4) * sizeof(*grown));

		if (v->n)
			memcpy(grown, v->names, v->n * sizeof(*grown));
		v->names = grown;
	}
	v->names[v->n++] = name;
	return SQL_WALK_SKIP;
}

static const PgQuery__Constraint *check(const struct strategy_input *in)
{
	const PgQuery__AlterTableCmd *c =
		strategy_alter_cmd(in, PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint);

	if (!c || !c->def || c->def->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
		return NULL;
	return c->def->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK ? c->def->constraint
										   : NULL;
}

static bool matches(struct plan_ctx *ctx, const struct strategy_input *in)
{
	const PgQuery__Constraint *c = check(in);

	/* NO INHERIT checks are rare and cannot be validated separately on partitions */
	return c && !c->skip_validation && !c->is_no_inherit && sql_round_trips(ctx, in->node);
}

static int plan(struct plan_ctx *ctx, const struct strategy_input *in, struct pgphase_error *err)
{
	const PgQuery__Constraint *c = check(in);
	const PgQuery__RangeVar *rv = in->node->alter_table_stmt->relation;
	struct vars v = { plan_arena(ctx), NULL, 0, 0 };
	struct plan_name_want w = { rv, 'c', false, false, NULL, 0 };
	const char *name = c->conname;

	if (!name[0]) {
		sql_tree_walk(&c->raw_expr->base, 0, var_visit, &v);
		w.cols = v.names;
		w.n_cols = v.n;
		name = plan_choose_name(ctx, &w, rv->relname, v.n == 1 ? v.names[0] : NULL, "check",
					false);
	}

	return plan_constraint_not_valid(ctx, &strategy_add_check_not_valid, in, name, err);
}

/* last step: validate ends the backfill phase */
static enum pgphase_phase last_phase(const struct strategy_input *in)
{
	return plan_phase_raised(in, PGPHASE_PHASE_BACKFILL);
}

const struct pgphase_strategy strategy_add_check_not_valid = {
	.name = "add-check-not-valid",
	.summary = "ADD CHECK: added NOT VALID in expand, VALIDATE CONSTRAINT in its own "
		   "transaction at the end of backfill",
	.matches = matches,
	.plan = plan,
	.last_phase = last_phase,
};
