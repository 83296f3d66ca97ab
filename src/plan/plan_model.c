/*
 * The planner's catalog questions: is a relation or column new, what a name refers to on the
 * database, a table's key, a column's type/NOT NULL/default, the views that depend on a
 * column, whether a type change is binary-coercible, whether an expression is volatile, and
 * whether a statement runs as written (plan_runs_as_written).
 *
 * Two sources, combined here: the schema model (src/plan/plan_state.c: what the statements
 * before the one being planned did, earlier pending migrations included) answers for the
 * objects the statements touched — a table renamed by the migration maps back to its
 * catalog name, a column added by it is answered from its ColumnDef — and the database
 * answers for everything else.  Offline only the model answers.  A table's key on the
 * database is the backfill engine's (pgphase_backfill_key); the model's is what the
 * migrations declare.
 *
 * Answers live in the plan's arena.
 */
#include <stdlib.h>
#include <string.h>

#include "base/db.h"
#include "pgphase/backfill.h"
#include "plan/plan_int.h"
#include "base/util.h"

/*
 * The column's type as SQL text (format_type is made to be read back by the parser), NOT
 * NULL, and its default expression (pg_get_expr, also made to be parsed; not for generated
 * columns, whose expression is no default).
 */
static const char *const SQL_COLUMN_INFO =
	"SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull,"
	"       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END"
	"  FROM pg_attribute a"
	"  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0"
	"   AND NOT a.attisdropped";

/* Read a default expression back: the parser gives its node. */
static const char *const SQL_EXPR_TMPL = "SELECT %s";

/* Read a type back from format_type() text: the parser gives its TypeName. */
static const char *const SQL_TYPE_CAST_TMPL = "SELECT NULL::%s";

/* Views whose rewrite rules reference the column ($1 table, $2 column). */
static const char *const SQL_DEPENDENT_VIEWS =
	"SELECT string_agg(DISTINCT v.oid::regclass::text, ', ')"
	"  FROM pg_attribute a"
	"  JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid"
	"                  AND d.refobjsubid = a.attnum AND d.classid = 'pg_rewrite'::regclass"
	"  JOIN pg_rewrite r ON r.oid = d.objid"
	"  JOIN pg_class v ON v.oid = r.ev_class AND v.oid <> a.attrelid"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2";

/* Source column type and typmod, and whether a binary-coercible cast to $3 exists. */
static const char *const SQL_COERCIBLE =
	"SELECT a.atttypid = $3::oid, a.atttypmod,"
	"       EXISTS (SELECT 1 FROM pg_cast c WHERE c.castsource = a.atttypid"
	"                  AND c.casttarget = $3::oid AND c.castmethod = 'b'),"
	"       format_type($3::oid, NULL)"
	"  FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = $2";

/* Is any function of this name volatile?  NULL when no function has the name. */
static const char *const SQL_VOLATILE = "SELECT bool_or(provolatile = 'v') FROM pg_proc WHERE proname = $1";

/* A statement naming the table, for the backfill engine's key resolution ($1: the table). */
static const char *const SQL_KEY_PROBE = "DELETE FROM %s";

/* Type oid of a type name, via a deparsed cast of NULL; the second column's typmod (PQfmod)
 * is the one the type name gives. */
static const char *const SQL_TYPE_OID_TMPL =
	"SELECT pg_typeof(CAST(NULL AS pgphase_type_t))::oid, CAST(NULL AS pgphase_type_t)";

PGresult *plan_ask(struct plan_ctx *ctx, const char *sql, int n, const char *const *params)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	PGresult *r;

	if (!ctx->opts.session)
		return NULL;
	r = db_query(ctx->opts.session, sql, n, params, PGRES_TUPLES_OK, &e);
	pgphase_error_release(&e); /* an unanswered question falls back to the migrations */
	return r;
}

/* The first target of "SELECT <text>" parsed with fmt, or NULL. */
static const PgQuery__Node *parse_target(struct plan_ctx *ctx, const char *fmt, const char *text)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	const PgQuery__Node *n = plan_parse_node(ctx, arena_printf(ctx->arena, fmt, text), &e);
	const PgQuery__Node *v = NULL;

	if (n && n->node_case == PG_QUERY__NODE__NODE_SELECT_STMT && n->select_stmt->n_target_list == 1)
		v = n->select_stmt->target_list[0]->res_target->val;
	pgphase_error_release(&e);
	return v;
}

/* ---- the model's answers ------------------------------------------------------------- */

bool plan_is_new_table(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, size_t before)
{
	const struct plan_state_rel *r = plan_state_rel(plan_state_at(ctx, before), rv);

	return r && !r->gone && r->is_new;
}

bool plan_is_new_column(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column,
			size_t before)
{
	struct plan_state *st = plan_state_at(ctx, before);
	const struct plan_state_rel *r = plan_state_rel(st, rv);
	const struct plan_state_col *c;

	if (!r || r->gone)
		return false;
	if (r->is_new)
		return true;
	c = plan_state_col(st, r, column);
	return c && !c->gone && c->is_new;
}

/* A RangeVar for (schema, name) in the arena. */
static const PgQuery__RangeVar *make_rv(struct plan_ctx *ctx, const PgQuery__RangeVar *like,
					const char *schema, const char *name)
{
	PgQuery__RangeVar *rv = arena_alloc(ctx->arena, sizeof(*rv));

	*rv = *like;
	rv->schemaname = (char *)(schema ? schema : "");
	rv->relname = (char *)name;
	rv->alias = NULL;
	return rv;
}

const PgQuery__RangeVar *plan_catalog_name(struct plan_ctx *ctx, const PgQuery__RangeVar *rv)
{
	const struct plan_state_rel *r = plan_state_rel(plan_state_at(ctx, ctx->pos), rv);

	if (!r)
		return rv; /* untouched: the catalog's own */
	if (r->gone || !r->cat_name)
		return NULL; /* dropped, or created by the migrations */
	if (strcmp(r->cat_name, rv->relname) == 0 && strcmp(r->cat_schema, rv->schemaname) == 0)
		return rv;
	return make_rv(ctx, rv, r->cat_schema, r->cat_name);
}

/* Every relation the statement names (RangeVar), for the temp-table question. */
struct temp_walk {
	struct plan_state *st;
	bool found;
};

static enum sql_walk_next temp_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	struct temp_walk *w = arg;
	const PgQuery__RangeVar *rv = (const PgQuery__RangeVar *)m;
	const struct plan_state_rel *r;

	(void)slot;
	if (m->descriptor != &pg_query__range_var__descriptor)
		return SQL_WALK_CONTINUE;
	if (rv->schemaname && strcmp(rv->schemaname, "pg_temp") == 0) {
		w->found = true;
		return SQL_WALK_STOP;
	}
	r = plan_state_rel(w->st, rv);
	if (r && !r->gone && r->temp) {
		w->found = true;
		return SQL_WALK_STOP;
	}
	return SQL_WALK_CONTINUE;
}

bool plan_reads_temp_table(struct plan_ctx *ctx, const PgQuery__Node *node, size_t before)
{
	struct temp_walk w = { plan_state_at(ctx, before), false };

	if (node)
		sql_tree_walk(&node->base, 0, temp_visit, &w);
	return w.found;
}

/*
 * ALTER TABLE sub-commands on one column that need no care when the column is new.  Not SET
 * NOT NULL: a column added to an existing table has its rows, and SET NOT NULL scans them all
 * under ACCESS EXCLUSIVE, so it keeps the check dance (the common "add, fill, require").
 */
static bool column_cmd(const PgQuery__AlterTableCmd *c)
{
	switch (c->subtype) {
	case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStatistics:
	case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStorage:
		return c->name && c->name[0];
	default:
		return false;
	}
}

/* Does the statement only change columns added earlier in this migration? */
static bool only_new_columns(struct plan_ctx *ctx, const PgQuery__Node *n, size_t before)
{
	if (n->node_case == PG_QUERY__NODE__NODE_RENAME_STMT)
		return n->rename_stmt->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN &&
		       n->rename_stmt->relation &&
		       plan_is_new_column(ctx, n->rename_stmt->relation, n->rename_stmt->subname,
					  before);
	if (n->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT || !n->alter_table_stmt->n_cmds)
		return false;
	for (size_t i = 0; i < n->alter_table_stmt->n_cmds; i++) {
		const PgQuery__Node *c = n->alter_table_stmt->cmds[i];

		if (c->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD ||
		    !column_cmd(c->alter_table_cmd) ||
		    !plan_is_new_column(ctx, n->alter_table_stmt->relation, c->alter_table_cmd->name,
					before))
			return false;
	}
	return true;
}

bool plan_runs_as_written(struct plan_ctx *ctx, const struct strategy_input *in)
{
	plan_state_at(ctx, in->origin); /* questions from here on are about this statement */
	return (in->note && in->note->as_is) ||
	       plan_is_new_table(ctx, plan_stmt_relation(in->node), in->origin) ||
	       plan_reads_temp_table(ctx, in->node, in->origin) ||
	       only_new_columns(ctx, in->node, in->origin);
}

/* The key the catalog gives the relation rv now names (the engine's own resolution). */
static char **catalog_key(struct plan_ctx *ctx, const PgQuery__RangeVar *cat)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	struct pgphase_backfill_key key = { 0 };
	struct pgphase_backfill_spec spec = { 0 };
	char *sql = sql_renderf(ctx, &e, SQL_KEY_PROBE, sql_rel(ctx, cat));
	char **out = NULL;

	spec.stmt = sql ? plan_parse_node(ctx, sql, &e) : NULL;
	if (spec.stmt && pgphase_backfill_key(ctx->opts.session, &spec, &key, &e) == 0) {
		out = arena_alloc(ctx->arena, ((size_t)key.n + 1) * sizeof(*out));
		for (int i = 0; i < key.n; i++)
			out[i] = arena_strdup(ctx->arena, key.cols[i]);
		out[key.n] = NULL;
	}
	pgphase_backfill_key_release(&key);
	pgphase_error_release(&e);
	return out;
}

char **plan_table_key(struct plan_ctx *ctx, const PgQuery__RangeVar *rv)
{
	const struct plan_state_rel *r;
	const PgQuery__RangeVar *cat;
	char **key = NULL;
	size_t n = 0;

	if (ctx->opts.key) {
		/* --key a,b overrides whatever the migrations say */
		char *copy = arena_strdup(ctx->arena, ctx->opts.key), *save = NULL;

		key = arena_alloc(ctx->arena, (strlen(copy) + 2) * sizeof(*key));
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			key[n++] = tok; /* copy is the key's own, in the arena */
		key[n] = NULL;
		return key;
	}
	r = plan_state_rel(plan_state_at(ctx, ctx->pos), rv);
	if (r && !r->gone && r->key_known) {
		if (!r->key)
			return NULL;
		for (; r->key[n]; n++)
			;
		key = arena_alloc(ctx->arena, (n + 1) * sizeof(*key));
		for (size_t i = 0; i <= n; i++)
			key[i] = (char *)r->key[i];
		return key;
	}
	/* a renamed table: the key of the catalog table it is (the engine resolves it again on
	   the database when it runs, under the new name) */
	cat = plan_catalog_name(ctx, rv);
	if (cat && cat != rv && ctx->opts.session)
		return catalog_key(ctx, cat);
	return NULL;
}

/* The catalog's answer for (rel, column); false when it has none. */
static bool info_from_catalog(struct plan_ctx *ctx, const PgQuery__RangeVar *rel,
			      const char *column, struct plan_column *out)
{
	const char *params[2] = { sql_rel(ctx, rel), column };
	PGresult *r = plan_ask(ctx, SQL_COLUMN_INFO, 2, params);
	bool found = false;

	if (r && PQntuples(r) > 0) {
		const PgQuery__Node *v = parse_target(ctx, SQL_TYPE_CAST_TMPL, PQgetvalue(r, 0, 0));

		if (v && v->node_case == PG_QUERY__NODE__NODE_TYPE_CAST)
			out->type = v->type_cast->type_name;
		out->not_null = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
		if (!PQgetisnull(r, 0, 2))
			out->dflt = parse_target(ctx, SQL_EXPR_TMPL, PQgetvalue(r, 0, 2));
		found = out->type != NULL;
	}
	PQclear(r);
	return found;
}

bool plan_column_info(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column,
		      struct plan_column *out)
{
	struct plan_state *st = plan_state_at(ctx, ctx->pos);
	const struct plan_state_rel *r = plan_state_rel(st, rv);
	const struct plan_state_col *c = plan_state_col(st, r, column);
	const PgQuery__RangeVar *cat;
	bool found;

	memset(out, 0, sizeof(*out));
	if ((r && r->gone) || (c && c->gone))
		return false;
	if (c && !c->catalog) {
		/* added by the migrations: its ColumnDef (and what later statements changed) */
		out->type = c->type;
		out->not_null = c->not_null == 1;
		out->dflt = c->dflt;
		return out->type != NULL;
	}
	if (r && r->created && r->all_columns && !r->maybe_old && !c)
		return false; /* the model knows every column of the table */
	cat = r && r->created ? rv : plan_catalog_name(ctx, rv);
	found = cat && info_from_catalog(ctx, cat, c ? c->catalog : column, out);
	if (!found && cat != rv)
		/* renamed already on the database (a migration resumed after its expand) */
		found = info_from_catalog(ctx, rv, c ? c->name : column, out);
	if (!found)
		return false;
	if (c && c->type)
		out->type = c->type;
	if (c && c->not_null >= 0)
		out->not_null = c->not_null == 1;
	if (c && c->dflt_known)
		out->dflt = c->dflt;
	return true;
}

char *plan_dependent_views(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column)
{
	struct plan_state *st = plan_state_at(ctx, ctx->pos);
	const struct plan_state_col *c = plan_state_col(st, plan_state_rel(st, rv), column);
	const PgQuery__RangeVar *cat = plan_catalog_name(ctx, rv);
	const char *params[2] = { cat ? sql_rel(ctx, cat) : NULL, c ? c->catalog : column };
	PGresult *r;
	char *out = NULL;

	if (!params[0] || !params[1])
		return NULL; /* created or added by the migrations: no view can use it yet */
	r = plan_ask(ctx, SQL_DEPENDENT_VIEWS, 2, params);
	if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		out = arena_strdup(ctx->arena, PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

/*
 * Does changing a column's typmod from old to new (same type, named as format_type names it)
 * need no rewrite?  PostgreSQL skips the length coercion, and so the rewrite, when the new
 * typmod is unconstrained (-1) or the type's length-coercion support function calls the
 * change a no-op: longer varchar / bit varying, numeric with more precision and the same
 * scale, more fractional seconds for time and timestamp types.
 */
static bool typmod_change_free(const char *type, long old, long new)
{
	if (new == old || new == -1)
		return true;
	if (old == -1)
		return false; /* an unconstrained value may not fit */
	if (strcmp(type, "character varying") == 0 || strcmp(type, "bit varying") == 0 ||
	    strcmp(type, "timestamp without time zone") == 0 ||
	    strcmp(type, "timestamp with time zone") == 0 ||
	    strcmp(type, "time without time zone") == 0 || strcmp(type, "time with time zone") == 0)
		return new >= old;
	if (strcmp(type, "numeric") == 0)
		/* typmod = ((precision << 16) | scale) + VARHDRSZ */
		return ((old - 4) & 0xffff) == ((new - 4) & 0xffff) &&
		       ((new - 4) >> 16) >= ((old - 4) >> 16);
	return false;
}

bool plan_binary_coercible(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column,
			   const PgQuery__TypeName *tn)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	struct sql_graft g = { "t", NULL, tn };
	char *q = sql_render(ctx, SQL_TYPE_OID_TMPL, &g, 1, &e), *rel = sql_rel(ctx, rv);
	PGresult *r = q ? plan_ask(ctx, q, 0, NULL) : NULL;
	bool ok = false;

	pgphase_error_release(&e);
	if (r && PQntuples(r) == 1) {
		const char *oid = PQgetvalue(r, 0, 0); /* r is cleared after c */
		const char *params[3] = { rel, column, oid };
		long newmod = PQfmod(r, 1); /* the typmod the cast gives */
		PGresult *c = plan_ask(ctx, SQL_COERCIBLE, 3, params);

		if (c && PQntuples(c) == 1) {
			bool same = strcmp(PQgetvalue(c, 0, 0), "t") == 0;
			long srcmod = atol(PQgetvalue(c, 0, 1));
			bool cast_b = strcmp(PQgetvalue(c, 0, 2), "t") == 0;
			const char *dst = PQgetvalue(c, 0, 3);

			if (same)
				ok = typmod_change_free(dst, srcmod, newmod);
			else
				/* another type: a binary cast and no length coercion after it */
				ok = cast_b && newmod == -1;
		}
		PQclear(c);
	}
	PQclear(r);
	return ok;
}

struct vol {
	struct plan_ctx *ctx;
	bool found;
};

/* Without a catalog answer (offline plans, unknown names) the toolkit's table decides. */
static enum sql_walk_next volatile_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	struct vol *v = arg;
	const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)m;
	const char *name;

	(void)slot;
	if (m->descriptor != &pg_query__func_call__descriptor || !fc->n_funcname)
		return SQL_WALK_CONTINUE;
	name = sql_str(fc->funcname[fc->n_funcname - 1]);
	if (!name)
		return SQL_WALK_CONTINUE;
	{
		const char *params[1] = { name };
		PGresult *r = plan_ask(v->ctx, SQL_VOLATILE, 1, params);

		if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
			v->found = v->found || strcmp(PQgetvalue(r, 0, 0), "t") == 0;
			PQclear(r);
			return SQL_WALK_CONTINUE;
		}
		PQclear(r);
	}
	if (sql_func_volatility(fc->funcname, fc->n_funcname) == SQL_VOL_VOLATILE)
		v->found = true;
	return SQL_WALK_CONTINUE;
}

bool plan_expr_volatile(struct plan_ctx *ctx, const PgQuery__Node *expr)
{
	struct vol v = { ctx, false };

	if (expr)
		sql_tree_walk(&expr->base, 0, volatile_visit, &v);
	return v.found;
}
